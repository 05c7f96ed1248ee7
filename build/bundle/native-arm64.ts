import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { run } from './exec.js';
import { EM_AARCH64, elfMachine } from './node-arm64.js';

/**
 * Cross-compiles the three native pieces the device runs for arm64 with Debian's aarch64 toolchain,
 * against the pinned Node's own headers (build/README.md says why this and not qemu-user builds):
 *  - tfjs-tflite-node's N-API binding, linked to the arm64 TFLite 2.9 C library its package carries;
 *  - unix-dgram's NAN addon (sd_notify), which is tied to this Node's ABI;
 *  - our XNNPACK/Edge TPU shim (runtime/inference/xnnpack-delegate.c).
 * Flags follow what node-gyp would use; outputs are stripped and built with path prefixes mapped
 * away, so the bytes do not depend on where the checkout or the cache lives. Library lookup is by
 * $ORIGIN only, matching the bundle layout (node_modules beside dist, as in the repository).
 */
export const CC = 'aarch64-linux-gnu-gcc';
export const CXX = 'aarch64-linux-gnu-g++';

export interface NativeInputs {
  repoRoot: string;
  /** The pinned Node's include/node. */
  nodeInclude: string;
  /** Bundle root to write into (node_modules/... and dist/native/...). */
  bundleDir: string;
}

const TFLITE_LIB_DIR = 'node_modules/tfjs-tflite-node/cc_deps/linux_arm64';

const common = (i: NativeInputs): string[] => [
  '-shared',
  '-fPIC',
  '-pthread',
  '-O2',
  '-s',
  `-ffile-prefix-map=${i.repoRoot}=.`,
  `-ffile-prefix-map=${dirname(dirname(i.nodeInclude))}=node`,
  '-D_FILE_OFFSET_BITS=64',
  '-D_LARGEFILE_SOURCE',
  '-DBUILDING_NODE_EXTENSION',
  '-I',
  i.nodeInclude,
];

/** The compiler runs, in order: [compiler, args, output relative to the bundle]. */
export function nativeSteps(i: NativeInputs): Array<{ cc: string; args: string[]; output: string }> {
  const nm = (p: string): string => join(i.repoRoot, 'node_modules', p);
  const tflite = 'node_modules/tfjs-tflite-node/build/Release/node_tflite_binding.node';
  const dgram = 'node_modules/unix-dgram/build/Release/unix_dgram.node';
  const shim = 'dist/native/libsidewalk_xnnpack.so';
  return [
    {
      cc: CXX,
      output: tflite,
      args: [
        ...common(i),
        '-std=gnu++17',
        '-fexceptions',
        '-DNAPI_CPP_EXCEPTIONS',
        '-DNODE_GYP_MODULE_NAME=node_tflite_binding',
        '-I',
        nm('node-addon-api'),
        '-I',
        nm('tfjs-tflite-node/cc_deps/include'),
        '-I',
        nm('tfjs-tflite-node'),
        nm('tfjs-tflite-node/binding/node_tflite_binding.cc'),
        '-L',
        join(i.repoRoot, TFLITE_LIB_DIR),
        '-ltensorflowlite_c',
        '-lexternal_delegate_obj',
        '-Wl,-rpath,$ORIGIN/../../cc_deps/linux_arm64',
        '-o',
        join(i.bundleDir, tflite),
      ],
    },
    {
      cc: CXX,
      output: dgram,
      args: [...common(i), '-std=gnu++17', '-fno-rtti', '-fno-exceptions', '-DNODE_GYP_MODULE_NAME=unix_dgram', '-I', nm('nan'), nm('unix-dgram/src/unix_dgram.cc'), '-o', join(i.bundleDir, dgram)],
    },
    {
      cc: CC,
      output: shim,
      args: [
        ...common(i),
        '-std=c11',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-I',
        nm('tfjs-tflite-node/cc_deps/include'),
        join(i.repoRoot, 'runtime/inference/xnnpack-delegate.c'),
        '-L',
        join(i.repoRoot, TFLITE_LIB_DIR),
        '-ltensorflowlite_c',
        `-Wl,-rpath,$ORIGIN/../../${TFLITE_LIB_DIR}`,
        '-Wl,--no-undefined',
        '-o',
        join(i.bundleDir, shim),
      ],
    },
  ];
}

export async function buildNativeArm64(i: NativeInputs, say: (msg: string) => void = () => {}): Promise<string[]> {
  const outputs: string[] = [];
  for (const step of nativeSteps(i)) {
    say(`${step.cc} -> ${step.output}`);
    await mkdir(dirname(join(i.bundleDir, step.output)), { recursive: true });
    await run(step.cc, step.args, { cwd: i.repoRoot, code: 'BUILD_NATIVE_FAILED' });
    if ((await elfMachine(join(i.bundleDir, step.output))) !== EM_AARCH64) {
      throw new SidewalkError('BUILD_NATIVE_FAILED', `${step.output}: ${step.cc} did not produce an AArch64 shared object`);
    }
    outputs.push(step.output);
  }
  return outputs;
}
