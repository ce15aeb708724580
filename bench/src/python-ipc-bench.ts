/**
 * The Python backend's channel choice, measured (docs/design/0015; `npm run bench:python-ipc`): the
 * mean round trip of one tensor Node -> python3 -> Node over a socket pair (the bytes in the frame,
 * as the backend sends them) against /dev/shm files (the bytes written and read with pwrite/pread on
 * the Node side and mapped with mmap in Python; only the length goes over the socket).
 */
import { spawn } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from './servers.js';

const SIZES = [64, 4096, 65536, 1 << 20, 16 << 20];
const IN = '/dev/shm/nereid-ipc-in';
const OUT = '/dev/shm/nereid-ipc-out';

async function run(mode: 'socket' | 'shm'): Promise<number[]> {
  const child = spawn('/usr/bin/python3', [join(REPO_ROOT, 'bench', 'python', 'ipc_echo.py'), mode], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
  const socket = child.stdio[3] as Socket;
  // Chunks kept as they come and joined once a whole answer is in (as the backend's FrameReader does).
  let chunks: Buffer[] = [];
  let buffered = 0;
  let expected = 0;
  let waiter: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    buffered += chunk.length;
    if (buffered >= expected && waiter !== undefined) {
      const rest = Buffer.concat(chunks).subarray(expected);
      chunks = rest.length > 0 ? [rest] : [];
      buffered = rest.length;
      const done = waiter;
      waiter = undefined;
      done();
    }
  });
  const means: number[] = [];
  for (const size of SIZES) {
    const payload = Buffer.alloc(size, 7);
    const back = Buffer.alloc(size);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(size);
    let input = -1;
    let output = -1;
    if (mode === 'shm') {
      input = openSync(IN, 'w+');
      ftruncateSync(input, size);
      output = openSync(OUT, 'w+');
      ftruncateSync(output, size);
    }
    expected = mode === 'socket' ? 4 + size : 4;
    const iterations = size >= 1 << 20 ? 40 : 2000;
    let start = 0;
    for (let i = 0; i < iterations + 10; i++) {
      if (i === 10) start = performance.now();
      const answered = new Promise<void>((resolve) => (waiter = resolve));
      if (mode === 'socket') {
        socket.cork();
        socket.write(head);
        socket.write(payload);
        socket.uncork();
      } else {
        writeSync(input, payload, 0, size, 0);
        socket.write(head);
      }
      await answered;
      if (mode === 'shm') readSync(output, back, 0, size, 0);
    }
    means.push(((performance.now() - start) * 1000) / iterations);
    if (mode === 'shm') {
      closeSync(input);
      closeSync(output);
    }
  }
  child.kill();
  if (mode === 'shm') {
    unlinkSync(IN);
    unlinkSync(OUT);
  }
  return means;
}

const socketUs = await run('socket');
const shmUs = await run('shm');
console.log('Round trip of one tensor, node -> python3 -> node (mean µs)\n');
console.log('bytes'.padEnd(12) + 'socket pair'.padStart(14) + '/dev/shm'.padStart(12));
SIZES.forEach((size, i) => console.log(String(size).padEnd(12) + socketUs[i]!.toFixed(1).padStart(14) + shmUs[i]!.toFixed(1).padStart(12)));
