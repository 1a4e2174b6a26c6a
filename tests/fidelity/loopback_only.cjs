// Preloaded into every node process of the fidelity suite (NODE_OPTIONS=--require): any attempt to open
// a connection or resolve a name other than loopback is refused and written to FIDELITY_NET_LOG, which
// the Python test asserts empty. Telemetry, update checks and plugin lookups cannot leave the machine.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const dns = require('node:dns');
const tls = require('node:tls');
const util = require('node:util');

const LOG = process.env.FIDELITY_NET_LOG;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

function refuse(what) {
  const line = `${process.pid} ${what}\n`;
  if (LOG) fs.appendFileSync(LOG, line);
  const err = new Error(`fidelity suite: outside loopback refused: ${what}`);
  err.code = 'ECONNREFUSED';
  return err;
}

function target(args) {
  const first = args[0];
  if (Array.isArray(first)) return target(first);
  if (first && typeof first === 'object') {
    if (first.path) return null; // a unix socket (IPC between CLI processes) stays on the machine
    return String(first.host ?? first.hostname ?? 'localhost');
  }
  if (typeof first === 'string' && Number.isNaN(Number(first))) return null; // a unix socket path
  return String(args[1] ?? 'localhost');
}

const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connect(...args) {
  const host = target(args);
  if (host !== null && !LOOPBACK.has(host)) {
    const err = refuse(`connect ${host}`);
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return originalConnect.apply(this, args);
};

const originalTlsConnect = tls.connect;
tls.connect = function connect(...args) {
  const host = target(args);
  if (host !== null && !LOOPBACK.has(host) && !(args[0] && args[0].socket)) throw refuse(`tls ${host}`);
  return originalTlsConnect.apply(this, args);
};

for (const mod of [dns, dns.promises]) {
  for (const name of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCname']) {
    const original = mod[name];
    if (typeof original !== 'function') continue;
    mod[name] = function guarded(hostname, ...rest) {
      if (!LOOPBACK.has(String(hostname))) {
        const err = refuse(`dns ${name} ${hostname}`);
        const callback = rest.find((r) => typeof r === 'function');
        if (callback) {
          process.nextTick(() => callback(err));
          return undefined;
        }
        return Promise.reject(err);
      }
      return original.call(this, hostname, ...rest);
    };
  }
}
// util.promisify(dns.lookup) must keep resolving to {address, family} (Node keeps that in an internal
// symbol the wrapper above lacks); @salesforce/core's My Domain check reads `.address`.
const promisesLookup = dns.promises.lookup;
dns.lookup[util.promisify.custom] = function lookupPromise(hostname, ...rest) {
  if (!LOOPBACK.has(String(hostname))) return Promise.reject(refuse(`dns lookup ${hostname}`));
  return promisesLookup.call(dns.promises, hostname, ...rest);
};
