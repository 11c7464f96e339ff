#!/usr/bin/env node
// scripts/smtp-sink.mjs — a minimal SMTP server for the dev and test stacks: it
// accepts every message and writes it to <dir>/<ms timestamp>-<n>.eml, so that
// crm-worker's e-mail can be read without a mail server. Started by scripts/stack.sh.
//
//   node scripts/smtp-sink.mjs --port 2525 --dir var/dev/mail [--host 127.0.0.1]
//
// Speaks EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT (RFC 5321, no
// TLS, no AUTH). Each file starts with the envelope (Return-Path, X-Envelope-To)
// followed by the message as received, dot-unstuffed. Files are written under a
// temporary name and renamed, so a reader never sees half a message.
// Limits: lines of 4096 bytes, messages of 10 MiB, 100 recipients, 100
// connections, 60 s of silence. Listens on loopback only by default.
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';

const MAX_LINE = 4096;
const MAX_MESSAGE = 10 * 1024 * 1024;
const MAX_RCPT = 100;
const MAX_CONNECTIONS = 100;
const IDLE_MS = 60_000;
const NAME = 'crm-smtp-sink';

function args(argv) {
  const out = { host: '127.0.0.1', port: 0, dir: '' };
  for (let i = 2; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) usage();
    if (key === '--port') out.port = Number(value);
    else if (key === '--dir') out.dir = value;
    else if (key === '--host') out.host = value;
    else usage();
  }
  if (!Number.isInteger(out.port) || out.port < 1 || out.port > 65535 || !out.dir) usage();
  return out;
}

function usage() {
  process.stderr.write('usage: smtp-sink.mjs --port N --dir DIR [--host 127.0.0.1]\n');
  process.exit(2);
}

function log(msg) {
  process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
}

const opts = args(process.argv);
fs.mkdirSync(opts.dir, { recursive: true, mode: 0o750 });

let stored = 0;

// Writes one message; answers the file's name.
function store(from, rcpts, data) {
  stored += 1;
  const name = `${Date.now()}-${stored}.eml`;
  const head = `Return-Path: <${from}>\r\nX-Envelope-To: ${rcpts.map((r) => `<${r}>`).join(', ')}\r\n`;
  const tmp = path.join(opts.dir, `.${name}.tmp`);
  fs.writeFileSync(tmp, Buffer.concat([Buffer.from(head, 'latin1'), data]), { mode: 0o640 });
  fs.renameSync(tmp, path.join(opts.dir, name));
  return name;
}

// The address inside `FROM:<a>` / `TO:<a>` (parameters after it ignored), or null.
function address(arg, keyword) {
  const m = new RegExp(`^${keyword}:\\s*<([^<>\\s]*)>`, 'i').exec(arg);
  return m ? m[1] : null;
}

function session(socket) {
  let buffer = Buffer.alloc(0);
  let from = null;
  let rcpts = [];
  let data = null; // the message's lines while in DATA, else null
  let dataSize = 0;
  let tooBig = false;

  const reply = (line) => socket.write(`${line}\r\n`);
  const reset = () => {
    from = null;
    rcpts = [];
    data = null;
    dataSize = 0;
    tooBig = false;
  };

  socket.setTimeout(IDLE_MS, () => {
    reply(`421 4.4.2 ${NAME} idle too long`);
    socket.end();
  });
  socket.on('error', () => socket.destroy());
  reply(`220 ${NAME} ESMTP ready`);

  function dataLine(line) {
    if (line.length === 1 && line[0] === 0x2e) {
      // "." alone: the end of the message
      if (tooBig) reply('552 5.3.4 message too big');
      else {
        const name = store(from, rcpts, Buffer.concat(data));
        log(`stored ${name} from <${from}> to ${rcpts.map((r) => `<${r}>`).join(', ')}`);
        reply(`250 2.0.0 stored as ${name}`);
      }
      reset();
      return;
    }
    const body = line[0] === 0x2e ? line.subarray(1) : line; // dot-unstuffing
    dataSize += body.length + 2;
    if (dataSize > MAX_MESSAGE) tooBig = true;
    if (!tooBig) data.push(body, Buffer.from('\r\n'));
  }

  function command(text) {
    const m = /^([A-Za-z]+)(?:\s+(.*))?$/.exec(text);
    const verb = m ? m[1].toUpperCase() : '';
    const arg = m && m[2] ? m[2] : '';
    switch (verb) {
      case 'EHLO':
        reply(`250-${NAME} hello`);
        reply(`250-SIZE ${MAX_MESSAGE}`);
        reply('250-8BITMIME');
        reply('250 SMTPUTF8');
        reset();
        break;
      case 'HELO':
        reply(`250 ${NAME} hello`);
        reset();
        break;
      case 'MAIL': {
        const a = address(arg, 'FROM');
        if (a === null) reply('501 5.5.4 syntax: MAIL FROM:<address>');
        else {
          reset();
          from = a;
          reply('250 2.1.0 ok');
        }
        break;
      }
      case 'RCPT': {
        const a = address(arg, 'TO');
        if (from === null) reply('503 5.5.1 MAIL first');
        else if (a === null || a === '') reply('501 5.5.4 syntax: RCPT TO:<address>');
        else if (rcpts.length >= MAX_RCPT) reply('452 4.5.3 too many recipients');
        else {
          rcpts.push(a);
          reply('250 2.1.5 ok');
        }
        break;
      }
      case 'DATA':
        if (rcpts.length === 0) reply('503 5.5.1 RCPT first');
        else {
          data = [];
          reply('354 end data with <CR><LF>.<CR><LF>');
        }
        break;
      case 'RSET':
        reset();
        reply('250 2.0.0 ok');
        break;
      case 'NOOP':
        reply('250 2.0.0 ok');
        break;
      case 'VRFY':
        reply('252 2.5.2 cannot verify');
        break;
      case 'QUIT':
        reply(`221 2.0.0 ${NAME} bye`);
        socket.end();
        break;
      default:
        reply('502 5.5.2 command not implemented');
    }
  }

  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    let nl;
    while ((nl = buffer.indexOf(0x0a)) !== -1) {
      let line = buffer.subarray(0, nl);
      buffer = buffer.subarray(nl + 1);
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      if (line.length > MAX_LINE) {
        reply('500 5.5.6 line too long');
        socket.end();
        return;
      }
      if (data !== null) dataLine(line);
      else command(line.toString('latin1'));
    }
    if (buffer.length > MAX_LINE) {
      reply('500 5.5.6 line too long');
      socket.end();
    }
  });
}

const server = net.createServer(session);
server.maxConnections = MAX_CONNECTIONS;
server.on('error', (err) => {
  process.stderr.write(`${NAME}: ${err.message}\n`);
  process.exit(1);
});
server.listen(opts.port, opts.host, () => log(`${NAME} listening on ${opts.host}:${opts.port}, mail to ${opts.dir}`));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    log(`${NAME} stopping (${sig})`);
    server.close();
    process.exit(0);
  });
}
