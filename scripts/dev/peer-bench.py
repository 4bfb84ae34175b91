#!/usr/bin/env python3
"""The PyTorch peer of `npm run bench -- --peer DIR`: times upstream stylegan2-ada-pytorch's training
phases on the CPU (or, with "device": "cuda", on PyTorch CUDA as upstream's training_loop.py sets it
up: cuDNN benchmark on, TF32 off; each timing synchronized; peak memory reported) with the networks and settings that bench.ts gives it, as upstream's
training_loop.py runs them (requires_grad on the phase's module only, accumulate_gradients,
nan_to_num, Adam step; with augment_p, upstream's bgc AugmentPipe at that fixed p, which needs
scipy), plus G inference and (when torchvision is present) Inception-v3 features; or, for the line
"memory", each phase's peak memory.

    python3 scripts/dev/peer-bench.py UPSTREAM_CHECKOUT CONFIG_JSON

It builds everything once, then answers each line "run ITERS" on stdin with one JSON line of
per-phase median milliseconds, so that bench.ts can alternate rounds of ours and of this peer.
Only upstream's modules are imported from the checkout; nothing of it is copied here.
"""
import json
import sys
import time


def use_grid_sample_gradfix_on_new_torch(torch, gradfix):
    """Upstream's grid_sample_gradfix turns itself off after torch 1.9 (its backward op gained an
    output_mask argument in 1.11), and plain grid_sample has no double backward, so upstream fails in
    Dreg (R1 through the augmentation) on the torch this bench uses: "derivative for
    aten::grid_sampler_2d_backward is not implemented" (NVlabs/stylegan2-ada-pytorch#196, #311). Its
    custom op is kept, with the backward called in the current signature."""
    def backward_forward(ctx, grad_output, input, grid):
        mask = [ctx.needs_input_grad[1], ctx.needs_input_grad[2]]
        grad_input, grad_grid = torch.ops.aten.grid_sampler_2d_backward(grad_output, input, grid, 0, 0, False, mask)
        ctx.save_for_backward(grid)
        return grad_input, grad_grid
    gradfix._should_use_custom_op = lambda: gradfix.enabled
    gradfix._GridSample2dBackward.forward = staticmethod(backward_forward)


def proc_status_mb(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024
    return None


def phase_memory(torch, device, phases, run_phase):
    """Per phase, run alone: the most memory it holds at once above what lives before it. On CUDA,
    the caching allocator's peak of allocated bytes; on the CPU, the process's peak resident size
    (VmHWM, reset through /proc/self/clear_refs) above its resident size before the phase, which is
    the tensors' only where freed memory goes back to the system: bench.ts starts this peer with
    glibc's mmap threshold fixed at 64 KiB for that."""
    import gc
    out = {'phasesMB': {}, 'torch': torch.__version__}
    cuda = device.type == 'cuda'
    out['how'] = 'peak allocated CUDA memory' if cuda else 'peak resident memory (VmHWM)'
    for name, module, opt, gain in phases:
        gc.collect()
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            run_phase(name, module, opt, gain)
            torch.cuda.synchronize(device)
            out['phasesMB'][name] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
        else:
            base = proc_status_mb('VmRSS')
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            run_phase(name, module, opt, gain)
            out['phasesMB'][name] = proc_status_mb('VmHWM') - base
    return out


def main():
    checkout, cfg = sys.argv[1], json.loads(sys.argv[2])
    # The answers go to the real stdout; anything upstream prints (its CUDA plugin builds announce
    # themselves with print) goes to stderr, so that it cannot be taken for an answer.
    answers = sys.stdout
    sys.stdout = sys.stderr
    sys.path.insert(0, checkout)
    import numpy as np
    import torch
    torch.set_num_threads(cfg['threads'])
    from torch_utils import misc
    from torch_utils.ops import conv2d_gradfix, grid_sample_gradfix
    from training.networks import Generator, Discriminator
    from training.loss import StyleGAN2Loss
    conv2d_gradfix.enabled = True  # as training_loop.py sets them
    grid_sample_gradfix.enabled = True
    if cfg.get('augment_p') is not None and not torch.__version__.startswith(('1.7.', '1.8.', '1.9')):
        use_grid_sample_gradfix_on_new_torch(torch, grid_sample_gradfix)

    torch.manual_seed(0)
    device = torch.device(cfg.get('device', 'cpu'))
    cuda = device.type == 'cuda'
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    G = Generator(**cfg['G']).train().requires_grad_(False).to(device)
    D = Discriminator(**cfg['D']).train().requires_grad_(False).to(device)
    augment_pipe = None
    if cfg.get('augment_p') is not None:
        from training.augment import AugmentPipe
        bgc = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
        augment_pipe = AugmentPipe(**bgc).train().requires_grad_(False).to(device)
        augment_pipe.p.copy_(torch.as_tensor(cfg['augment_p']))
    loss = StyleGAN2Loss(device=device, G_mapping=G.mapping, G_synthesis=G.synthesis, D=D, augment_pipe=augment_pipe,
                         style_mixing_prob=cfg['style_mixing'], r1_gamma=cfg['r1_gamma'], pl_weight=cfg['pl_weight'])
    phases = []
    for name, module, reg_interval, lr in [('G', G, 4, cfg['lr']), ('D', D, 16, cfg['lr'])]:
        ratio = reg_interval / (reg_interval + 1)
        opt = torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=(0, 0.99 ** ratio), eps=1e-8)
        phases += [(name + 'main', module, opt, 1), (name + 'reg', module, opt, reg_interval)]
    if cfg['pl_weight'] == 0:
        phases = [p for p in phases if p[0] != 'Greg']
    if cfg['r1_gamma'] == 0:
        phases = [p for p in phases if p[0] != 'Dreg']

    batch, res, ch = cfg['batch'], cfg['G']['img_resolution'], cfg['G']['img_channels']
    real_img = torch.rand([batch, ch, res, res], device=device) * 2 - 1
    real_c = torch.zeros([batch, cfg['G']['c_dim']], device=device)
    gen_c = torch.zeros([batch, cfg['G']['c_dim']], device=device)

    def run_phase(name, module, opt, gain):
        gen_z = torch.randn([batch, G.z_dim], device=device)
        opt.zero_grad(set_to_none=True)
        module.requires_grad_(True)
        loss.accumulate_gradients(phase=name, real_img=real_img, real_c=real_c, gen_z=gen_z, gen_c=gen_c, sync=True, gain=gain)
        module.requires_grad_(False)
        for param in module.parameters():
            if param.grad is not None:
                misc.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad)
        opt.step()

    z = torch.randn([batch, G.z_dim], device=device)
    inception = None
    if cfg.get('inception'):
        try:
            import torchvision
            inception = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False).eval()
            inception.fc = torch.nn.Identity()  # pool3 features, as the FID network
            inception = inception.to(device)
            x299 = torch.rand([16, 3, 299, 299], device=device) * 2 - 1
        except ImportError:
            inception = None

    def timed(f):
        if cuda:
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        f()
        if cuda:
            torch.cuda.synchronize(device)
        return (time.perf_counter() - t0) * 1000

    for name, module, opt, gain in phases:  # warm-up
        run_phase(name, module, opt, gain)
    for line in sys.stdin:
        parts = line.split()
        if parts and parts[0] == 'memory':
            print(json.dumps(phase_memory(torch, device, phases, run_phase)), file=answers, flush=True)
            continue
        if not parts or parts[0] != 'run':
            continue
        iters = int(parts[1])
        out = {'phasesMs': {}, 'torch': torch.__version__, 'threads': torch.get_num_threads()}
        if cuda:
            from torch_utils.ops import bias_act, upfirdn2d
            out['gpu'] = torch.cuda.get_device_name(device)
            # Whether upstream's fused CUDA kernels built (else it runs its slower reference ops).
            out['customOps'] = bias_act._plugin is not None and upfirdn2d._plugin is not None
        for name, module, opt, gain in phases:
            out['phasesMs'][name] = float(np.median([timed(lambda: run_phase(name, module, opt, gain)) for _ in range(iters)]))
        with torch.no_grad():
            G(z, gen_c, noise_mode='const')
            out['gInferMs'] = float(np.median([timed(lambda: G(z, gen_c, noise_mode='const')) for _ in range(max(iters, 3))]))
            if inception is not None:
                inception(x299)
                out['inceptionMs'] = float(np.median([timed(lambda: inception(x299)) for _ in range(max(iters, 2))]))
        if cuda:
            out['gpuMB'] = round(torch.cuda.max_memory_reserved(device) / 2**20)
            out['gpuAllocatedMB'] = round(torch.cuda.max_memory_allocated(device) / 2**20)
        print(json.dumps(out), file=answers, flush=True)


if __name__ == '__main__':
    main()
