#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/TARGET/), in each target's input
format (see the top of fuzz_TARGET.c). Run from the project root; the checkpoint seeds come from
the built target itself: python3 tests/fuzz/make_seeds.py build-fuzz/tests/fuzz/fuzz_checkpoint"""
import glob, gzip, os, shutil, struct, subprocess, sys, tempfile, zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), 'wb') as f:
        f.write(data)


def config_seeds():
    for path in sorted(glob.glob('configs/*.yaml') + glob.glob('configs/sweeps/*.yaml')):
        write('config', os.path.basename(path), open(path, 'rb').read())
    write('config', 'sets.yaml', b'name: sets\ninclude: [hw/zynq7020.yaml]\n'
          b'#set training.psg.beta=0.1\n#set training.method=[fp32]\n#set seed=9\n')


def idx_pair(count, side):
    pixels = bytes((i * 37) % 256 for i in range(count * side * side))
    images = struct.pack('>IIII', 0x803, count, side, side) + pixels
    labels = struct.pack('>II', 0x801, count) + bytes(i % 10 for i in range(count))
    return images, labels


def dataset_seeds():
    images, labels = idx_pair(3, 28)
    for flags, name in ((0, 'idx-test'), (4, 'idx-train')):
        write('dataset', name, bytes([flags]) + struct.pack('<I', len(images)) + images + labels)
    gi, gl = gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0)
    write('dataset', 'idx-test-gz', bytes([0x18]) + struct.pack('<I', len(gi)) + gi + gl)
    rows10 = b''.join(bytes([i % 10]) + bytes((i + j) % 256 for j in range(3072)) for i in range(2))
    rows100 = b''.join(bytes([i % 20, i % 100]) + bytes((i * j) % 256 for j in range(3072))
                       for i in range(2))
    write('dataset', 'cifar10', bytes([1, 0, 0, 0, 0]) + rows10)
    write('dataset', 'cifar100', bytes([2, 0, 0, 0, 0]) + rows100)
    write('dataset', 'cifar10-gz', bytes([9, 0, 0, 0, 0]) + gzip.compress(rows10, mtime=0))


def inflate_blocks(trace):
    """The trace with each block's payload inflated (fuzz_trace's flag-bit-0 form)."""
    n = struct.unpack_from('<I', trace, 16)[0]
    out, off = bytearray(trace[:24 + n]), 24 + n
    while trace[off:off + 1] == b'B':
        comp = struct.unpack_from('<I', trace, off + 6)[0]
        raw = zlib.decompress(trace[off + 18:off + 18 + comp])
        out += trace[off:off + 2] + struct.pack('<II', len(raw), len(raw)) + trace[off + 10:off + 18]
        out += raw
        off += 18 + comp
    return bytes(out + trace[off:])


def trace_seeds():
    for path in sorted(glob.glob('traces/*.e2t')):
        data = open(path, 'rb').read()
        name = os.path.basename(path)
        write('trace', name, b'\0' + data)
        write('trace', 'raw-' + name, b'\1' + inflate_blocks(data))


def checkpoint_seeds(fuzzer):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'seed.e2ck')
        env = dict(os.environ, E2SIM_FUZZ_WRITE_SEED=path)
        subprocess.run([fuzzer], env=env, check=True)
        data = open(path, 'rb').read()
    write('checkpoint', 'tiny-resnet8', b'\0' + data)
    write('checkpoint', 'tiny-resnet8-fixcrc', b'\1' + data)


config_seeds()
dataset_seeds()
trace_seeds()
if len(sys.argv) > 1:
    checkpoint_seeds(sys.argv[1])
