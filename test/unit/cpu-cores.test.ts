// onnxruntime gets one thread per physical core: SMT siblings in /proc/cpuinfo must not count twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { physicalCores } from '../../server/src/pipeline/onnx/cpu-cores.js';

const cpu = (processor: number, physical: number, core: number) =>
  `processor\t: ${processor}\nmodel name\t: Test CPU\nphysical id\t: ${physical}\ncore id\t\t: ${core}\n`;

test('two hyper-threads of one core count once; cores of two sockets count apart', () => {
  const smt = [cpu(0, 0, 0), cpu(1, 0, 1), cpu(2, 0, 0), cpu(3, 0, 1)].join('\n');
  assert.equal(physicalCores(smt), Math.min(2, availableParallelism()));
  const sockets = [cpu(0, 0, 0), cpu(1, 1, 0)].join('\n');
  assert.equal(physicalCores(sockets), Math.min(2, availableParallelism()));
});

test('without core ids (other systems, some VMs) the logical count is used', () => {
  assert.equal(physicalCores(''), availableParallelism());
});
