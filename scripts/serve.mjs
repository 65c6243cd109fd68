#!/usr/bin/env node
// A static file server for the built web app (no dependencies): node scripts/serve.mjs [--root DIR] [--port N]
// Binds 127.0.0.1 only. Serves .wasm with the right MIME type so streaming compilation works.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const root = path.resolve(option('--root', 'build/wasm/web'));
const port = Number(option('--port', '8080'));
const host = option('--host', '127.0.0.1');
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`serve: --port must be an integer in 1..65535, got "${option('--port')}"`);
  process.exit(2);
}
if (!fs.existsSync(path.join(root, 'index.html'))) {
  console.error(`serve: ${root}/index.html not found: build the web app first (make demo does)`);
  process.exit(2);
}
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.bin': 'application/octet-stream', '.dlw': 'application/octet-stream',
  '.md': 'text/markdown; charset=utf-8', '.gz': 'application/gzip', '.csv': 'text/csv',
};
const server = http.createServer((req, res) => {
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  } catch {
    res.writeHead(400).end('bad request');
    return;
  }
  let file = path.join(root, path.normalize(pathname));
  if (!file.startsWith(root)) { res.writeHead(403).end('forbidden'); return; }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
  fs.readFile(file, (err, data) => {
    if (err) { res.writeHead(404, {'Content-Type': 'text/plain'}).end(`not found: ${pathname}`); return; }
    res.writeHead(200, {'Content-Type': types[path.extname(file)] || 'application/octet-stream',
                        'Cache-Control': 'no-cache'});
    res.end(data);
  });
});
server.on('error', (e) => {
  console.error(e.code === 'EADDRINUSE'
    ? `serve: port ${port} is in use: stop the other server or pass --port (make demo PORT=8081)`
    : `serve: ${e.message}`);
  process.exit(1);
});
server.listen(port, host, () => console.log(`digitlab demo: http://${host}:${port}/  (serving ${root}; Ctrl-C stops)`));
