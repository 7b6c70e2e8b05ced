'use strict';
// Runs jsii's Node kernel in this process, on stdin/stdout.
//
// jsii's entry point (bin/jsii-runtime.js) starts the kernel (lib/program.js) as a second Node
// process and relays the Python side's stdin/stdout to the kernel's fd 3, where the kernel reads
// and writes its JSON lines synchronously (fs.readSync / fs.writeSync). Every request then crosses
// two pipes and wakes a third process. Here the kernel's fd 3 is mapped onto stdin (reads) and
// stdout (writes) instead, so a request is one pipe round-trip.
//
// stdout is the protocol channel now, so nothing else may reach it: whatever the kernel or a
// library would print goes to stderr as {"stdout"|"stderr": base64} lines, the form the relay
// uses and jsii's Python side unwraps. stdin and stdout are never opened as Node streams (that
// could make them non-blocking under the kernel's synchronous reads).
//
// Started by sre_constructs/_node.py as JSII_RUNTIME, copied beside jsii's lib/program.js.

const fs = require('fs');
const path = require('path');
const { Writable } = require('stream');

const CHANNEL = 3; // the kernel's protocol fd
const readSync = fs.readSync;
const writeSync = fs.writeSync;
const pause = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd, buffer) {
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += writeSync.call(fs, fd, buffer, offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

function wrapped(stream, data) {
  writeAll(2, Buffer.from(JSON.stringify({ [stream]: data.toString('base64') }) + '\n'));
}

// The bytes fs.writeSync(fd, buffer[, offset[, length]]) or fs.writeSync(fd, string[, position[, encoding]]) writes.
function bytesOf(data, rest) {
  if (typeof data === 'string') return Buffer.from(data, typeof rest[1] === 'string' ? rest[1] : 'utf8');
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const offset = typeof rest[0] === 'number' ? rest[0] : 0;
  const length = typeof rest[1] === 'number' ? rest[1] : view.length - offset;
  return view.subarray(offset, offset + length);
}

fs.readSync = function (fd, ...rest) {
  return readSync.call(fs, fd === CHANNEL ? 0 : fd, ...rest);
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

for (const name of ['stdout', 'stderr']) {
  const stream = new Writable({
    write(chunk, encoding, callback) {
      wrapped(name, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
      callback();
    },
  });
  stream.isTTY = false;
  Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => stream });
}

require(path.join(__dirname, 'program.js'));
