// The benchmark's workload: a trading-bot-like SQLite database (tickers,
// orders, deals, with indexes) and a few config files, generated from a seeded
// PRNG so every run (and every tool in a run) sees the same bytes. Built with
// node:sqlite in big transactions with prepared statements, so a 512 MiB
// database takes seconds, not minutes.
//
// Standalone: node bench/workload.ts DIR [--size-mib N] [--days N]
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { copyFileSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// sfc32: small, fast, good enough, and identical on every machine.
export class Rng {
  a: number;
  b: number;
  c: number;
  d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** [0, 1) */
  next(): number {
    return this.u32() / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  hex(bytes: number): string {
    let s = "";
    for (let i = 0; i < bytes; i += 4) s += this.u32().toString(16).padStart(8, "0");
    return s.slice(0, bytes * 2);
  }
}

const BASES = ["BTC", "ETH", "BNB", "SOL", "XRP", "ADA", "DOGE", "TRX", "DOT", "MATIC", "LTC", "AVAX", "LINK", "ATOM", "UNI", "XLM", "ETC", "FIL", "APT", "ARB", "OP", "NEAR", "ICP", "INJ", "SUI", "SEI", "TIA", "RNDR", "FET", "PEPE"];
const QUOTES = ["USDT", "FDUSD", "BTC"];
const SYMBOLS = BASES.flatMap((b) => QUOTES.filter((q) => q !== b).map((q) => b + q));
const BASE_PRICE = new Map(SYMBOLS.map((s, i) => [s, 0.05 + ((i * 7919) % 997) * 3.17]));
const SIDES = ["BUY", "SELL"] as const;
const TYPES = ["LIMIT", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"] as const;
const OPEN_STATUS = ["NEW", "PARTIALLY_FILLED"] as const;
const END_STATUS = ["FILLED", "CANCELED", "EXPIRED", "FILLED", "FILLED"] as const;
const STRATEGIES = ["grid-v3", "dca-weekly", "momentum-15m", "mean-revert-1h", "breakout-4h", "arb-tri"];
const FEE_ASSETS = ["BNB", "USDT", "BTC"];
const T0 = Date.UTC(2024, 0, 1) / 1000; // seconds
const DAY = 86400;

const SCHEMA = `
CREATE TABLE tickers (
  id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, ts INTEGER NOT NULL,
  open REAL, high REAL, low REAL, close REAL, volume REAL, quote_volume REAL, trades INTEGER
);
CREATE INDEX tickers_symbol_ts ON tickers(symbol, ts);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY, client_order_id TEXT NOT NULL UNIQUE, exchange_order_id INTEGER,
  symbol TEXT NOT NULL, side TEXT NOT NULL, type TEXT NOT NULL, price REAL, stop_price REAL,
  qty REAL NOT NULL, filled_qty REAL NOT NULL DEFAULT 0, status TEXT NOT NULL,
  strategy TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, raw_json TEXT
);
CREATE INDEX orders_symbol_created ON orders(symbol, created_at);
CREATE INDEX orders_status ON orders(status);
CREATE TABLE deals (
  id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id), symbol TEXT NOT NULL,
  side TEXT NOT NULL, price REAL NOT NULL, qty REAL NOT NULL, fee REAL, fee_asset TEXT,
  realized_pnl REAL, ts INTEGER NOT NULL, trade_id TEXT
);
CREATE INDEX deals_order ON deals(order_id);
CREATE INDEX deals_symbol_ts ON deals(symbol, ts);
CREATE TABLE bot_state (key TEXT PRIMARY KEY, value TEXT, updated_at INTEGER);
`;

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

type Counts = { tickers: number; orders: number; deals: number };

class Writer {
  readonly db: DatabaseSync;
  readonly rng: Rng;
  readonly insTicker: StatementSync;
  readonly insOrder: StatementSync;
  readonly insDeal: StatementSync;
  readonly updOrder: StatementSync;
  readonly getOrder: StatementSync;
  readonly setState: StatementSync;
  counts: Counts;
  clock: number; // seconds: the bot's "now"
  constructor(db: DatabaseSync, rng: Rng, counts: Counts, clock: number) {
    this.db = db;
    this.rng = rng;
    this.counts = counts;
    this.clock = clock;
    this.insTicker = db.prepare("INSERT INTO tickers VALUES (?,?,?,?,?,?,?,?,?,?)");
    this.insOrder = db.prepare("INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    this.insDeal = db.prepare("INSERT INTO deals VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    this.updOrder = db.prepare("UPDATE orders SET filled_qty = ?, status = ?, updated_at = ?, raw_json = ? WHERE id = ?");
    this.getOrder = db.prepare("SELECT qty, symbol, side, price FROM orders WHERE id = ?");
    this.setState = db.prepare("INSERT OR REPLACE INTO bot_state VALUES (?,?,?)");
  }

  ticker(): void {
    const r = this.rng;
    const id = ++this.counts.tickers;
    const symbol = SYMBOLS[id % SYMBOLS.length];
    const ts = this.clock;
    if (id % SYMBOLS.length === 0) this.clock += 60; // one candle per symbol per minute
    const p = BASE_PRICE.get(symbol)! * (1 + Math.sin(id / 50000) * 0.2 + (r.next() - 0.5) * 0.02);
    const o = round(p, 6);
    const c = round(p * (1 + (r.next() - 0.5) * 0.004), 6);
    const h = round(Math.max(o, c) * (1 + r.next() * 0.002), 6);
    const l = round(Math.min(o, c) * (1 - r.next() * 0.002), 6);
    const v = round(r.next() * 5000, 4);
    this.insTicker.run(id, symbol, ts, o, h, l, c, v, round(v * c, 2), r.int(3000));
  }

  order(): number {
    const r = this.rng;
    const id = ++this.counts.orders;
    const symbol = r.pick(SYMBOLS);
    const side = r.pick(SIDES);
    const type = r.pick(TYPES);
    const price = round(BASE_PRICE.get(symbol)! * (0.9 + r.next() * 0.2), 6);
    const qty = round(r.next() * 50 + 0.001, 5);
    const done = r.next() < 0.97;
    const status = done ? r.pick(END_STATUS) : r.pick(OPEN_STATUS);
    const filled = status === "FILLED" ? qty : status === "PARTIALLY_FILLED" ? round(qty * r.next(), 5) : 0;
    const created = this.clock - r.int(3600);
    const strategy = r.pick(STRATEGIES);
    const coid = `${strategy}-${id.toString(36)}-${r.hex(6)}`;
    const raw = `{"symbol":"${symbol}","orderId":${1e9 + id * 7},"clientOrderId":"${coid}","transactTime":${created * 1000},"price":"${price}","origQty":"${qty}","executedQty":"${filled}","status":"${status}","timeInForce":"GTC","type":"${type}","side":"${side}"}`;
    this.insOrder.run(id, coid, 1e9 + id * 7, symbol, side, type, price, type.startsWith("STOP") || type.startsWith("TAKE") ? round(price * 0.98, 6) : null, qty, filled, status, strategy, created, created + r.int(600), raw);
    return id;
  }

  deal(orderId?: number): void {
    const r = this.rng;
    const id = ++this.counts.deals;
    const oid = orderId ?? 1 + r.int(this.counts.orders);
    const symbol = r.pick(SYMBOLS);
    const price = round(BASE_PRICE.get(symbol)! * (0.9 + r.next() * 0.2), 6);
    const qty = round(r.next() * 20 + 0.001, 5);
    this.insDeal.run(id, oid, symbol, r.pick(SIDES), price, qty, round(price * qty * 0.00075, 8), r.pick(FEE_ASSETS), round((r.next() - 0.48) * price * qty * 0.02, 6), this.clock - r.int(3600), `T${r.hex(8)}`);
  }

  /**
   * One bulk round: tickers dominate, as candle history does in a real bot.
   * "interleaved": all tables grow together, as a database does over months of
   * trading, so each table's pages are spread over the whole file.
   * "sequential" (phase 0, then 1): all tickers first, then orders and deals,
   * so each table is one contiguous region (as a bulk import would leave it).
   */
  bulk(n: number, phase?: 0 | 1): void {
    for (let i = 0; i < n; i++) {
      if (phase !== 1) {
        this.ticker();
        this.ticker();
        this.ticker();
      }
      if (phase !== 0 && (phase === 1 || i % 2 === 0)) {
        const o = this.order();
        this.deal(o);
      }
    }
  }

  /** One simulated day: ~1% new rows in each table, ~1% of orders updated at random, deals added. */
  day(d: number): { inserted: number; updated: number } {
    const r = this.rng;
    const c0 = { ...this.counts };
    const newTickers = Math.ceil(c0.tickers * 0.01);
    const newOrders = Math.ceil(c0.orders * 0.01);
    const updates = Math.ceil(c0.orders * 0.01);
    const newDeals = Math.ceil(c0.deals * 0.01);
    // Interleaved in many small transactions as a bot would make them, but
    // batched (a few hundred per commit) so building stays fast.
    const steps = 200;
    let upd = 0;
    let ins = 0;
    for (let s = 0; s < steps; s++) {
      this.db.exec("BEGIN");
      const share = (n: number) => Math.floor((n * (s + 1)) / steps) - Math.floor((n * s) / steps);
      for (let i = share(newTickers); i > 0; i--, ins++) this.ticker();
      for (let i = share(newOrders); i > 0; i--, ins++) this.order();
      for (let i = share(newDeals); i > 0; i--, ins++) this.deal(c0.orders + 1 + r.int(this.counts.orders - c0.orders));
      for (let i = share(updates); i > 0; i--, upd++) {
        const id = 1 + r.int(c0.orders);
        const o = this.getOrder.get(id) as { qty: number; symbol: string; side: string; price: number };
        const status = r.pick(["FILLED", "CANCELED", "PARTIALLY_FILLED", "EXPIRED"]);
        const filled = status === "FILLED" ? o.qty : status === "PARTIALLY_FILLED" ? round(o.qty * r.next(), 5) : 0;
        const at = this.clock - r.int(DAY);
        this.updOrder.run(filled, status, at, `{"symbol":"${o.symbol}","side":"${o.side}","price":"${o.price}","executedQty":"${filled}","status":"${status}","updateTime":${at * 1000},"day":${d}}`, id);
      }
      this.setState.run("last_tick", String(this.clock), this.clock);
      this.setState.run(`day-${d}-progress`, `${s + 1}/${steps}`, this.clock);
      this.db.exec("COMMIT");
    }
    return { inserted: ins, updated: upd };
  }
}

function openDb(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA cache_size = -262144"); // 256 MiB page cache: indexes stay hot
  return db;
}

function readCounts(db: DatabaseSync): Counts {
  const n = (t: string) => Number((db.prepare(`SELECT coalesce(max(id), 0) AS n FROM ${t}`).get() as { n: number }).n);
  return { tickers: n("tickers"), orders: n("orders"), deals: n("deals") };
}

function readClock(db: DatabaseSync): number {
  const row = db.prepare("SELECT value FROM bot_state WHERE key = 'last_tick'").get() as { value: string } | undefined;
  return row ? Number(row.value) : T0;
}

/** Builds the day-0 database at `path`, about `sizeMiB` MiB. */
export type Layout = "interleaved" | "sequential";

export function buildDatabase(path: string, sizeMiB: number, seed = 42, layout: Layout = "interleaved"): { bytes: number; counts: Counts } {
  const db = openDb(path);
  db.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE");
  db.exec(SCHEMA);
  const w = new Writer(db, new Rng(seed), { tickers: 0, orders: 0, deals: 0 }, T0);
  const target = sizeMiB * 1048576;
  const pageBytes = () => {
    const pc = (db.prepare("PRAGMA page_count").get() as { page_count: number }).page_count;
    const ps = (db.prepare("PRAGMA page_size").get() as { page_size: number }).page_size;
    return pc * ps;
  };
  // Rounds of ~1/64 of the target, then smaller ones near the end.
  let bytes = 0;
  let perRow = 180; // bytes per bulk() step, refined as we go
  while (bytes < target) {
    // sequential: tickers up to 62% of the file (their share when interleaved), then orders and deals.
    const phase = layout === "interleaved" ? undefined : bytes < target * 0.62 ? 0 : 1;
    const goal = phase === 0 ? target * 0.62 : target;
    const left = goal - bytes;
    const n = Math.max(500, Math.min(Math.ceil(target / 64 / perRow), Math.ceil((left / perRow) * 0.6)));
    const before = bytes;
    db.exec("BEGIN");
    w.bulk(n, phase);
    w.setState.run("last_tick", String(w.clock), w.clock);
    db.exec("COMMIT");
    bytes = pageBytes();
    if (bytes > before) perRow = (bytes - before) / n;
  }
  db.exec("PRAGMA locking_mode = NORMAL");
  db.exec("PRAGMA journal_mode = WAL"); // a live bot's database is in WAL mode
  db.close();
  return { bytes: statSync(path).size, counts: w.counts };
}

/**
 * Grows a copy of the database at `from` to about `sizeMiB` at `path` by
 * re-inserting its rows with new ids (in SQL, no JS per row: several times
 * faster than buildDatabase). For the memory figure, where size is what counts.
 */
export function growDatabase(from: string, path: string, sizeMiB: number): { bytes: number } {
  copyFileSync(from, path);
  const db = openDb(path);
  db.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE");
  const target = sizeMiB * 1048576;
  const size = () => statSync(path).size;
  for (let k = 1; size() < target; k++) {
    const left = target - size();
    const frac = Math.min(1, left / size()); // copy only what is still missing
    const c = readCounts(db);
    const lim = (n: number) => Math.max(1, Math.ceil(n * frac));
    db.exec("BEGIN");
    db.exec(`INSERT INTO tickers SELECT id + ${c.tickers}, symbol, ts + ${k * 86400 * 365}, open, high, low, close * 1.0001, volume, quote_volume, trades FROM tickers WHERE id <= ${lim(c.tickers)}`);
    db.exec(`INSERT INTO orders SELECT id + ${c.orders}, client_order_id || '-g${k}', exchange_order_id + ${c.orders * 7}, symbol, side, type, price, stop_price, qty, filled_qty, status, strategy, created_at + ${k * 86400 * 365}, updated_at + ${k * 86400 * 365}, raw_json FROM orders WHERE id <= ${lim(c.orders)}`);
    db.exec(`INSERT INTO deals SELECT id + ${c.deals}, order_id + ${c.orders}, symbol, side, price, qty, fee, fee_asset, realized_pnl, ts + ${k * 86400 * 365}, trade_id || '-g${k}' FROM deals WHERE id <= ${lim(c.deals)}`);
    db.exec("COMMIT");
  }
  db.exec("PRAGMA locking_mode = NORMAL");
  db.exec("PRAGMA journal_mode = WAL");
  db.close();
  return { bytes: statSync(path).size };
}

/** Applies simulated day `d` (1-based) to the database at `path`. */
export function simulateDay(path: string, d: number, seed = 42): { inserted: number; updated: number; bytes: number } {
  const db = openDb(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  const w = new Writer(db, new Rng(seed * 1000 + d), readCounts(db), readClock(db) + DAY / 4);
  const r = w.day(d);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  return { ...r, bytes: statSync(path).size };
}

/** The bot's settings files (small; config.json changes on some days). */
export function writeConfig(dir: string, d: number, seed = 42): string[] {
  const r = new Rng(seed + 7);
  const files: Record<string, string> = {
    "config/config.json": JSON.stringify(
      {
        exchange: "binance",
        symbols: SYMBOLS.slice(0, 12 + (d % 3)),
        strategy: { name: "grid-v3", gridLevels: 20 + (d >> 1), takeProfitPct: 1.5, stopLossPct: 3 },
        risk: { maxOpenOrders: 40, maxPositionUsd: 2500 },
        telegram: { enabled: true, chatId: 123456789 },
      },
      null,
      2,
    ) + "\n",
    ".env": `BOT_ENV=production\nLOG_LEVEL=info\nTELEGRAM_TOKEN=${r.hex(20)}\nDB_PATH=data/trading_bot.db\n`,
    "security/salt.key": r.hex(32) + "\n",
    "binance_keys/api_key.txt": r.hex(32) + "\n",
    "binance_keys/api_secret.txt": r.hex(32) + "\n",
  };
  const paths: string[] = [];
  for (const [rel, text] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, text);
    paths.push(rel);
  }
  return paths;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const dir = args.find((a) => !a.startsWith("--")) ?? "bench-workload";
  const flag = (name: string, dflt: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const size = flag("--size-mib", 64);
  const days = flag("--days", 2);
  mkdirSync(dir, { recursive: true });
  const db = join(dir, "trading_bot.db");
  let t = performance.now();
  const b = buildDatabase(db, size);
  console.log(`built ${(b.bytes / 1048576).toFixed(1)} MiB in ${((performance.now() - t) / 1000).toFixed(1)} s`, b.counts);
  for (let d = 1; d <= days; d++) {
    t = performance.now();
    const r = simulateDay(db, d);
    console.log(`day ${d}: +${r.inserted} rows, ${r.updated} updates, ${(r.bytes / 1048576).toFixed(1)} MiB, ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
}
