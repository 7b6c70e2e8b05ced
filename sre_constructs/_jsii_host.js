'use strict';
// Runs jsii's Node kernel in this process, on stdin/stdout.
//
// jsii's entry point (bin/jsii-runtime.js) starts the kernel (lib/program.js) as a second Node
// process and relays the Python side's stdin/stdout to the kernel's fd 3, where the kernel reads
// and writes its JSON lines synchronously (fs.readSync / fs.writeSync). Every request then crosses
// two pipes and wakes a third process. Here the kernel's fd 3 is mapped onto stdin (reads) and
// stdout (writes) instead, so a request is one pipe round-trip.
//
// stdout is the protocol channel now, so nothing else may reach it: whatever the kernel, a
// library or Node itself would print goes to stderr as {"stdout"|"stderr": base64} lines, the
// form the relay uses and jsii's Python side unwraps. stdin and stdout are never opened as Node
// streams: that would make them non-blocking under the kernel's synchronous reads. process.stdin
// is an empty stream, as the relay's /dev/null stdin is for the kernel.
//
// Started by sre_constructs/_node.py as JSII_RUNTIME, copied beside jsii's lib/program.js.

const fs = require('fs');
const path = require('path');
const { Readable, Writable } = require('stream');

const CHANNEL = 3; // the kernel's protocol fd
const readSync = fs.readSync;
const writeSync = fs.writeSync;
const pause = new Int32Array(new SharedArrayBuffer(4));

// The environment as it was before the Python side set what starts this process
// ({name: value, or null for unset}): the kernel's children get that one.
const started = JSON.parse(process.env.SRE_CONSTRUCTS_JSII_HOST_ENV || '{}');
for (const [name, value] of Object.entries(started)) {
  if (value === null) delete process.env[name];
  else process.env[name] = value;
}
delete process.env.SRE_CONSTRUCTS_JSII_HOST_ENV;

// Synchronous I/O on a descriptor someone made non-blocking: wait and retry, backing off to
// 10 ms as jsii's own writer does, so an idle kernel does not spin.
function retrying(call) {
  for (let wait = 1; ; wait = Math.min(wait * 2, 10)) {
    try {
      return call();
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, wait);
    }
  }
}

function writeAll(fd, buffer) {
  let offset = 0;
  while (offset < buffer.length) {
    offset += retrying(() => writeSync.call(fs, fd, buffer, offset));
  }
}

function wrapped(stream, data) {
  writeAll(2, Buffer.from(JSON.stringify({ [stream]: data.toString('base64') }) + '\n'));
}

// The bytes fs.writeSync writes, for each of its forms: (fd, buffer[, offset[, length[, position]]]),
// (fd, buffer[, {offset, length, position}]) and (fd, string[, position[, encoding]]).
function bytesOf(data, rest) {
  if (typeof data === 'string') return Buffer.from(data, typeof rest[1] === 'string' ? rest[1] : 'utf8');
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const options = rest[0] !== null && typeof rest[0] === 'object' ? rest[0] : { offset: rest[0], length: rest[1] };
  const offset = typeof options.offset === 'number' ? options.offset : 0;
  const length = typeof options.length === 'number' ? options.length : view.length - offset;
  return view.subarray(offset, offset + length);
}

fs.readSync = function (fd, ...rest) {
  if (fd !== CHANNEL) return readSync.call(fs, fd, ...rest);
  return retrying(() => readSync.call(fs, 0, ...rest));
};

fs.writeSync = function (fd, data, ...rest) {
  if (fd === CHANNEL) return writeSync.call(fs, 1, data, ...rest);
  if (fd === 1 || fd === 2) {
    const bytes = bytesOf(data, rest);
    wrapped(fd === 1 ? 'stdout' : 'stderr', bytes);
    return bytes.length;
  }
  return writeSync.call(fs, fd, data, ...rest);
};

// The asynchronous form (fs.write, and the write streams built on it) for fds 1 and 2 as well.
const write = fs.write;
fs.write = function (fd, data, ...rest) {
  if (fd !== 1 && fd !== 2) return write.call(fs, fd, data, ...rest);
  const callback = typeof rest[rest.length - 1] === 'function' ? rest.pop() : () => {};
  const bytes = bytesOf(data, rest);
  wrapped(fd === 1 ? 'stdout' : 'stderr', bytes);
  process.nextTick(callback, null, bytes.length, data);
};

for (const [name, fd] of [['stdout', 1], ['stderr', 2]]) {
  const stream = new Writable({
    write(chunk, encoding, callback) {
      wrapped(name, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
      callback();
    },
  });
  stream.fd = fd; // fs.writeSync(process.stdout.fd, ...) lands in the patched writeSync above
  stream.isTTY = false;
  Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => stream });
}
const stdin = new Readable({ read() {} });
stdin.push(null);
Object.defineProperty(process, 'stdin', { configurable: true, enumerable: true, get: () => stdin });

// Node prints an uncaught exception straight to fd 2; the relay would have wrapped it.
process.on('uncaughtException', (error) => {
  wrapped('stderr', Buffer.from(`${(error && error.stack) || String(error)}\n`));
  process.exit(1);
});

require(path.join(__dirname, 'program.js'));
