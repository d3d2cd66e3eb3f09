import { redactFile, NO_RULES } from "./src/history/redact/redact.ts";
const key = new Uint8Array(32).fill(7);
const samples: Record<string, string> = {
  "/srv/bot/.env": `# bot settings\nAPI_URL=https://api.example.com\nexport BINANCE_API_KEY=k3yV4lu3Xyz\nBINANCE_SECRET="s3cr3t value"\nDATABASE_URL=postgres://bot:pgPassw0rd@db:5432/bot\nMAX_POSITION=0.5 # risk\n# password: oldpass123\n`,
  "/srv/bot/config/config.json": `{\n  "pair": "ETHUSDT",\n  "max_position": 0.5,\n  "exchange": { "api": { "key": "AbCdEf1234", "secret": "zzTopSecret99" }, "pin": 1234 },\n  "enabled": true\n}\n`,
  "/srv/bot/config.yml": `db:\n  host: localhost\n  password: "hunter2!"\ncert: |\n  -----BEGIN PRIVATE KEY-----\n  MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n  -----END PRIVATE KEY-----\nnotes: fine\ntoken: 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\n`,
  "/srv/app.toml": `title = "x"\n[db]\npassword = "tomlpass"\nport = 5432\napi_token = 12345678\n`,
  "/etc/mysql/my.cnf": `[client]\nuser = backup\npassword = myCnfPass\n\n[mysqld]\nskip-networking\nport: 3306\n`,
  "/etc/redis.conf": `bind 127.0.0.1\nrequirepass foobared99\nport 6379\n`,
  "/srv/bad.json": `{ "a": 1, "password": "x" \n`,
};
for (const [p, t] of Object.entries(samples)) {
  const r = await redactFile(p, Buffer.from(t), NO_RULES, key);
  console.log(`=== ${p} ${r.format} ${r.recorded} ${r.redacted} ${r.reason ?? ""}\n${r.text}`);
}
