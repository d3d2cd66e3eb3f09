// Which key names hold secrets: the keyword families of gitleaks' generic
// rule (access, auth, api, credential, creds, key, passwd, password, secret,
// token) and detect-secrets' keyword detector (api_key, private_key,
// db_pass, pwd, contraseña, ...), plus salt and pepper. A name is split into
// words ("dbPassword", "DB_PASSWORD", "db-password" -> db, password) so a
// word inside a longer name counts and a substring does not ("author" is not
// "auth", "monkey" is not "key").

/** Words that alone make a key secret. */
const SECRET_WORDS = new Set([
  "password", "passwd", "passphrase", "pwd", "pass", "pw", "secret", "secrets", "token", "tokens",
  "auth", "authorization", "credential", "credentials", "creds", "salt", "pepper",
  "apikey", "apikeys", "privatekey", "privkey", "secretkey", "accesskey", "signingkey", "masterkey",
  "dsn", "cookie", "jwt", "otp", "totp", "mnemonic", "contraseña", "contrasena", "passcode", "pin",
  "requirepass", "masterauth", "htpasswd", "signature", "sig",
]);

/** Words that make "<word> key" (or "<word>_key") secret. */
const KEY_QUALIFIERS = new Set([
  "api", "access", "private", "priv", "secret", "client", "auth", "service", "account", "db", "database",
  "signing", "sign", "encryption", "enc", "crypt", "master", "ssh", "app", "hmac", "jwt", "webhook",
  "session", "license", "consumer", "subscription", "storage", "admin", "root", "deploy", "bot",
]);

/** A last word that names something about a secret, not the secret ("password_file", "token_url"). */
const ABOUT_WORDS = new Set([
  "file", "path", "dir", "url", "uri", "endpoint", "length", "len", "min", "max", "ttl", "timeout",
  "expiry", "expires", "expiration", "type", "enabled", "enable", "required", "policy", "mode", "method",
  "env", "var", "name", "prefix", "id", "count", "strategy", "provider", "version",
]);

export function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

/** True when a value under this key name is a secret. */
export function isSecretKey(name: string): boolean {
  const w = words(name);
  if (w.length === 0) return false;
  if (w.length > 1 && ABOUT_WORDS.has(w[w.length - 1])) return false;
  if (w.length === 1 && (w[0] === "key" || w[0] === "keys")) return true;
  for (let i = 0; i < w.length; i++) {
    if (SECRET_WORDS.has(w[i])) return true;
    if ((w[i] === "key" || w[i] === "keys") && i > 0 && KEY_QUALIFIERS.has(w[i - 1])) return true;
  }
  return false;
}
