#!/usr/bin/env python3
# Makes test/fixtures/training_loop.safetensors: upstream stylegan2-ada-pytorch's own training
# loop (training/training_loop.py with training/loss.py and training/augment.py, unmodified) run for
# 4 iterations of a tiny config on the CPU, with every random draw recorded, and the state after
# every iteration (G, D, G_ema, both Adams' moments). test/training_loop.test.ts replays the draws
# through our trainer and compares.
#
#   /usr/bin/python3 scripts/make-training-loop-fixture.py /path/to/stylegan2-ada-pytorch [out]
#
# Needs Debian's python3-torch (1.13) and numpy; nothing of upstream is copied here. What this
# script changes around the loop, none of which touches the arithmetic:
# - CUDA: the loop asks for device 'cuda'; a stand-in torch module gives it the CPU, and CUDA
#   events, pinned memory and memory statistics become no-ops.
# - Random draws: torch.randn / rand / randn_like and Tensor.random_ draw from
#   numpy.random.RandomState(123) and are recorded in call order (normals, uniforms and integers in
#   three streams); only draws made inside the loop's iterations are kept (network init, the
#   summary tables and the snapshot grid also draw, before the loop).
# - Data: 8 random 16x16 RGB images in memory; the loop's own InfiniteSampler picks the batches,
#   whose indices are recorded.
import copy
import json
import os
import struct
import sys
import tempfile
import traceback
import types

import numpy as np
import torch

UPSTREAM = os.path.abspath(sys.argv[1])
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'training_loop.safetensors')
sys.path.insert(0, UPSTREAM)
# scipy is not installed here. The loop imports its metrics module (scipy.linalg; no metric runs)
# and AugmentPipe builds its image-filter bank (unused by 'bgc') with scipy.signal.convolve of a
# matrix by one row: the full 2-D convolution below is that operation.
def _convolve_rows(a, b):
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    return np.stack([np.convolve(row, b[0]) for row in a])


scipy = types.ModuleType('scipy')
scipy.linalg = types.ModuleType('scipy.linalg')
scipy.signal = types.SimpleNamespace(convolve=_convolve_rows)
sys.modules.setdefault('scipy', scipy)
sys.modules.setdefault('scipy.linalg', scipy.linalg)
sys.modules.setdefault('scipy.signal', scipy.signal)
import dnnlib  # noqa: E402
from training import training_loop, dataset as upstream_dataset  # noqa: E402

RES, BATCH, BATCH_GPU, ITERS, N_IMAGES = 16, 4, 2, 4, 8
CONFIG = dict(
    G_kwargs=dict(class_name='training.networks.Generator', z_dim=8, w_dim=8,
                  mapping_kwargs=dict(num_layers=2), synthesis_kwargs=dict(channel_base=64, channel_max=8, num_fp16_res=0, conv_clamp=256)),
    D_kwargs=dict(class_name='training.networks.Discriminator', channel_base=64, channel_max=8, num_fp16_res=0, conv_clamp=256,
                  block_kwargs=dict(), mapping_kwargs=dict(), epilogue_kwargs=dict(mbstd_group_size=2)),
    G_opt_kwargs=dict(class_name='torch.optim.Adam', lr=0.0025, betas=[0, 0.99], eps=1e-8),
    D_opt_kwargs=dict(class_name='torch.optim.Adam', lr=0.0025, betas=[0, 0.99], eps=1e-8),
    loss_kwargs=dict(class_name='training.loss.StyleGAN2Loss', r1_gamma=0.5, style_mixing_prob=0.9, pl_weight=2, pl_batch_shrink=2, pl_decay=0.01),
    augment_kwargs=dict(class_name='training.augment.AugmentPipe', xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
                        brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1),
    augment_p=0.5, ada_target=None, batch_size=BATCH, batch_gpu=BATCH_GPU, ema_kimg=0.01, ema_rampup=0.5,
    G_reg_interval=2, D_reg_interval=2, random_seed=0,
)

# The loop enables upstream's grid_sample_gradfix, which refuses PyTorch > 1.9 and falls back to
# a grid_sample without the double backward that R1 through the augmentation needs. Its custom op
# (what runs on upstream's GPUs) is used instead; only the call of the backward kernel is updated
# to PyTorch 1.13's signature (an output mask was added).
from torch_utils.ops import grid_sample_gradfix  # noqa: E402

grid_sample_gradfix._should_use_custom_op = lambda: True


def _grid_backward_forward(ctx, grad_output, input, grid):
    grad_input, grad_grid = torch.ops.aten.grid_sampler_2d_backward(grad_output, input, grid, 0, 0, False, [True, True])
    ctx.save_for_backward(grid)
    return grad_input, grad_grid


grid_sample_gradfix._GridSample2dBackward.forward = staticmethod(_grid_backward_forward)

# ---- the dataset ---------------------------------------------------------------------------
IMAGES = np.random.RandomState(7).randint(0, 256, size=[N_IMAGES, 3, RES, RES]).astype(np.uint8)
fetched = []  # indices the loop's data loader asked for, in order


class FixtureDataset(upstream_dataset.Dataset):
    def __init__(self, **kwargs):
        super().__init__(name='fixture', raw_shape=[N_IMAGES, 3, RES, RES], **kwargs)

    def _load_raw_image(self, raw_idx):
        if not any(f.name == 'setup_snapshot_image_grid' for f in traceback.extract_stack()):
            fetched.append(int(raw_idx))
        return IMAGES[raw_idx]

    def _load_raw_labels(self):
        return None


sys.modules['fixture_data'] = types.SimpleNamespace(FixtureDataset=FixtureDataset)

# ---- recorded draws ------------------------------------------------------------------------
source = np.random.RandomState(123)
streams = {'normal': [], 'uniform': [], 'int': []}
in_loop = [False]
real_randn, real_rand, real_random_ = torch.randn, torch.rand, torch.Tensor.random_


def shape_of(args):
    if len(args) == 1 and isinstance(args[0], (list, tuple, torch.Size)):
        return [int(s) for s in args[0]]
    return [int(s) for s in args]


def keep(kind, values, shape):
    if not in_loop[0]:
        return
    v = np.asarray(values, dtype=np.float64)
    if kind == 'normal' and len(shape) == 4 and shape[1] > 1:
        v = v.reshape(shape).transpose(0, 2, 3, 1)  # NCHW draws (path-length noise) as NHWC
    streams[kind].append(v.reshape(-1))


def randn(*args, device=None, dtype=None, **kw):
    shape = shape_of(args)
    v = source.standard_normal(shape).astype(np.float32)
    keep('normal', v, shape)
    return torch.from_numpy(v).to(device or 'cpu')


def rand(*args, device=None, dtype=None, **kw):
    shape = shape_of(args)
    v = source.random_sample(shape).astype(np.float32)
    keep('uniform', v, shape)
    return torch.from_numpy(v).to(device or 'cpu')


def randn_like(t, **kw):
    return randn(list(t.shape), device=t.device)


def random_(self, *args, **kw):
    if len(args) != 2 or kw:  # e.g. the DataLoader's worker base seed: not a draw of the training
        return real_random_(self, *args, **kw)
    lo, hi = args
    v = source.randint(lo, hi, size=list(self.shape))
    keep('int', v, list(self.shape))
    return self.copy_(torch.from_numpy(np.asarray(v)).to(self.dtype))


torch.randn, torch.rand, torch.randn_like, torch.Tensor.random_ = randn, rand, randn_like, random_

# ---- CUDA on the CPU -----------------------------------------------------------------------
class NoEvent:
    def __init__(self, *a, **k): pass
    def record(self, *a, **k): pass
    def synchronize(self): pass
    def elapsed_time(self, other): return 0.0


cuda = types.SimpleNamespace(Event=NoEvent, current_stream=lambda *a, **k: None, max_memory_allocated=lambda *a, **k: 0,
                             reset_peak_memory_stats=lambda *a, **k: None, is_available=lambda: False)


class TorchOnCpu(types.ModuleType):
    def __getattr__(self, name):
        return getattr(torch, name)


torch_cpu = TorchOnCpu('torch')
torch_cpu.device = lambda *a, **k: torch.device('cpu')
torch_cpu.cuda = cuda
torch.Tensor.pin_memory = lambda self, *a, **k: self
training_loop.torch = torch_cpu

# ---- capture the networks and optimizers the loop builds -------------------------------------
built = {}
construct = dnnlib.util.construct_class_by_name


def construct_and_capture(*args, class_name=None, **kwargs):
    obj = construct(*args, class_name=class_name, **kwargs)
    if class_name == 'training.networks.Generator':
        built['G'] = obj
        built['init_G'] = {k: v.detach().clone() for k, v in obj.state_dict().items()}
    elif class_name == 'training.networks.Discriminator':
        built['D'] = obj
        built['init_D'] = {k: v.detach().clone() for k, v in obj.state_dict().items()}
    elif class_name == 'torch.optim.Adam':
        built['opt_G' if 'opt_G' not in built else 'opt_D'] = obj
        built.setdefault('opt_kwargs', []).append({k: (list(v) if isinstance(v, tuple) else v) for k, v in obj.defaults.items() if k in ('lr', 'betas', 'eps')})
    return obj


training_loop.dnnlib.util.construct_class_by_name = construct_and_capture
deepcopy = copy.deepcopy


def deepcopy_and_capture(obj, *a, **k):
    out = deepcopy(obj, *a, **k)
    if obj is built.get('G'):
        built['G_ema'] = out
    return out


training_loop.copy = types.SimpleNamespace(deepcopy=deepcopy_and_capture)

# The loop's draws start with the first iteration's z (all_gen_z); mark it by wrapping the iterator.
real_dataloader = torch.utils.data.DataLoader


class MarkingLoader(real_dataloader):
    def __iter__(self):
        for batch in super().__iter__():
            in_loop[0] = True
            yield batch


torch_cpu.utils = types.SimpleNamespace(data=types.SimpleNamespace(DataLoader=MarkingLoader))

states = []


def snapshot_state():
    def named(module):
        return {k: v.detach().clone() for k, v in module.state_dict().items()}

    def adam(opt, module):
        names = {id(p): n for n, p in module.named_parameters()}
        m, v, steps = {}, {}, {}
        for group in opt.param_groups:
            for p in group['params']:
                st = opt.state.get(p, {})
                if 'exp_avg' in st:
                    m[names[id(p)]] = st['exp_avg'].clone()
                    v[names[id(p)]] = st['exp_avg_sq'].clone()
                    steps[names[id(p)]] = float(st['step'])
        return m, v, steps

    mg, vg, sg = adam(built['opt_G'], built['G'])
    md, vd, sd = adam(built['opt_D'], built['D'])
    states.append(dict(G=named(built['G']), D=named(built['D']), G_ema=named(built['G_ema']), mG=mg, vG=vg, mD=md, vD=vd, stepsG=sg, stepsD=sd))
    in_loop[0] = True
    return False  # abort_fn: never abort


with tempfile.TemporaryDirectory() as run_dir:
    kw = {k: v for k, v in CONFIG.items() if k not in ('G_kwargs', 'D_kwargs', 'G_opt_kwargs', 'D_opt_kwargs', 'loss_kwargs', 'augment_kwargs')}
    training_loop.training_loop(
        run_dir=run_dir, training_set_kwargs=dict(class_name='fixture_data.FixtureDataset'), data_loader_kwargs=dict(num_workers=0),
        G_kwargs=dnnlib.EasyDict(CONFIG['G_kwargs']), D_kwargs=dnnlib.EasyDict(CONFIG['D_kwargs']),
        G_opt_kwargs=dnnlib.EasyDict(CONFIG['G_opt_kwargs']), D_opt_kwargs=dnnlib.EasyDict(CONFIG['D_opt_kwargs']),
        loss_kwargs=dnnlib.EasyDict(CONFIG['loss_kwargs']), augment_kwargs=dnnlib.EasyDict(CONFIG['augment_kwargs']),
        total_kimg=BATCH * ITERS / 1000, kimg_per_tick=BATCH / 1000, image_snapshot_ticks=None, network_snapshot_ticks=None,
        cudnn_benchmark=False, abort_fn=snapshot_state, **kw)
    snapshot_state()  # after the last iteration (the loop does not ask abort_fn then)
assert len(states) == ITERS, f'{len(states)} states captured'

# ---- write -----------------------------------------------------------------------------------
tensors = {}


def put(name, t):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    tensors[name] = a.astype(np.float32)


for k, v in built['init_G'].items():
    put(f'init/G/{k}', v)
for k, v in built['init_D'].items():
    put(f'init/D/{k}', v)
put('images', IMAGES.transpose(0, 2, 3, 1))  # NHWC, uint8 values
put('fetched', fetched[:BATCH * ITERS])
for kind, parts in streams.items():
    put(f'draws/{kind}', np.concatenate(parts) if parts else np.zeros([0]))
for i, st in enumerate(states):
    for net in ('G', 'D', 'G_ema'):
        for k, v in st[net].items():
            put(f'iter{i + 1}/{net}/{k}', v)
    for net in ('G', 'D'):
        for k, v in st[f'm{net}'].items():
            put(f'iter{i + 1}/opt_{net}/m/{k}', v)
            put(f'iter{i + 1}/opt_{net}/v/{k}', st[f'v{net}'][k])
            put(f'iter{i + 1}/opt_{net}/step/{k}', [st[f'steps{net}'][k]])

meta = dict(config=CONFIG, res=RES, iters=ITERS, opt_kwargs=built['opt_kwargs'], torch=torch.__version__,
            upstream='stylegan2-ada-pytorch ' + os.popen(f'git -C {UPSTREAM} rev-parse --short HEAD').read().strip(),
            draws={k: int(sum(p.size for p in v)) for k, v in streams.items()})
header, offset, blobs = {'__metadata__': {'fixture': json.dumps(meta)}}, 0, []
for name, a in tensors.items():
    b = a.tobytes()
    header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + len(b)]}
    blobs.append(b)
    offset += len(b)
h = json.dumps(header).encode()
h += b' ' * ((8 - (8 + len(h)) % 8) % 8)
with open(OUT, 'wb') as f:
    f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
print(f'{OUT}: {len(tensors)} tensors, {offset / 2**20:.2f} MB; draws {meta["draws"]}; fetched {fetched[:BATCH * ITERS]}')
