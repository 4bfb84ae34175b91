#!/usr/bin/env python3
"""Writes test/fixtures/tiny16_tf.pkl: the tiny16 reference network as an old TensorFlow
StyleGAN2 network pickle (a tuple (G, D, Gs) of dnnlib.tflib.network.Network states with numpy
variables), so the TF-pickle reader can be tested without TensorFlow.

The parameters come from test/fixtures/tiny16.safetensors and are put into the TF layout as the
inverse of upstream's legacy converter (legacy.py): dense weights transposed, conv weights
[kh, kw, in, out] (up/down-sampling kernels also flipped), mod_bias - 1, noise constants with two
leading axes, the const input with a leading axis, channel_base = 2 * fmap_base. An extra TF-only
variable ('lod') checks that unused variables are ignored. Needs only Python 3 and numpy.

  python3 scripts/make-tf-pickle-fixture.py [out.pkl]
"""
import json
import pickle
import struct
import sys
import types

import numpy as np

ROOT = __file__.rsplit('/scripts/', 1)[0]


def read_safetensors(path):
    with open(path, 'rb') as f:
        buf = f.read()
    n = struct.unpack('<Q', buf[:8])[0]
    header = json.loads(buf[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        b, en = e['data_offsets']
        out[name] = np.frombuffer(buf[8 + n + b:8 + n + en], dtype='<f4').reshape(e['shape']).copy()
    return out


# A module and class with the names TF pickles reference, so pickle writes
# 'dnnlib.tflib.network Network'; __getstate__ gives the state dict the TF code stored.
mod = types.ModuleType('dnnlib.tflib.network')
sys.modules['dnnlib'] = types.ModuleType('dnnlib')
sys.modules['dnnlib.tflib'] = types.ModuleType('dnnlib.tflib')
sys.modules['dnnlib.tflib.network'] = mod


class Network:
    def __init__(self, name, static_kwargs, variables, components):
        self.state = dict(version=4, name=name, static_kwargs=static_kwargs, build_module_src='# omitted',
                          build_func_name='omitted', variables=variables, components=components)

    def __getstate__(self):
        return self.state


Network.__module__ = 'dnnlib.tflib.network'
mod.Network = Network


def conv(w, flip=False):  # upstream [O, I, kh, kw] -> TF [kh, kw, I, O]
    t = w.transpose(2, 3, 1, 0)
    return np.ascontiguousarray(t[::-1, ::-1] if flip else t)


def main():
    st = read_safetensors(f'{ROOT}/test/fixtures/tiny16.safetensors')
    G = {k[2:]: v for k, v in st.items() if k.startswith('G/')}
    D = {k[2:]: v for k, v in st.items() if k.startswith('D/')}

    mapping = [(f'Dense{i}/weight', G[f'mapping.fc{i}.weight'].T.copy()) for i in range(2)]
    mapping += [(f'Dense{i}/bias', G[f'mapping.fc{i}.bias']) for i in range(2)]
    syn = [('4x4/Const/const', G['synthesis.b4.const'][None]),
           ('4x4/Conv/weight', conv(G['synthesis.b4.conv1.weight'])),
           ('4x4/Conv/bias', G['synthesis.b4.conv1.bias']),
           ('4x4/Conv/noise_strength', G['synthesis.b4.conv1.noise_strength']),
           ('4x4/Conv/mod_weight', G['synthesis.b4.conv1.affine.weight'].T.copy()),
           ('4x4/Conv/mod_bias', G['synthesis.b4.conv1.affine.bias'] - 1),
           ('noise0', G['synthesis.b4.conv1.noise_const'][None, None]),
           ('lod', np.float32(0))]
    for r in (8, 16):
        p, lg = f'synthesis.b{r}', int(np.log2(r))
        syn += [(f'{r}x{r}/Conv0_up/weight', conv(G[f'{p}.conv0.weight'], flip=True)),
                (f'{r}x{r}/Conv0_up/bias', G[f'{p}.conv0.bias']),
                (f'{r}x{r}/Conv0_up/noise_strength', G[f'{p}.conv0.noise_strength']),
                (f'{r}x{r}/Conv0_up/mod_weight', G[f'{p}.conv0.affine.weight'].T.copy()),
                (f'{r}x{r}/Conv0_up/mod_bias', G[f'{p}.conv0.affine.bias'] - 1),
                (f'noise{lg * 2 - 5}', G[f'{p}.conv0.noise_const'][None, None]),
                (f'{r}x{r}/Conv1/weight', conv(G[f'{p}.conv1.weight'])),
                (f'{r}x{r}/Conv1/bias', G[f'{p}.conv1.bias']),
                (f'{r}x{r}/Conv1/noise_strength', G[f'{p}.conv1.noise_strength']),
                (f'{r}x{r}/Conv1/mod_weight', G[f'{p}.conv1.affine.weight'].T.copy()),
                (f'{r}x{r}/Conv1/mod_bias', G[f'{p}.conv1.affine.bias'] - 1),
                (f'noise{lg * 2 - 4}', G[f'{p}.conv1.noise_const'][None, None])]
    for r in (4, 8, 16):
        p = f'synthesis.b{r}.torgb'
        syn += [(f'{r}x{r}/ToRGB/weight', conv(G[f'{p}.weight'])), (f'{r}x{r}/ToRGB/bias', G[f'{p}.bias']),
                (f'{r}x{r}/ToRGB/mod_weight', G[f'{p}.affine.weight'].T.copy()), (f'{r}x{r}/ToRGB/mod_bias', G[f'{p}.affine.bias'] - 1)]
    g_kwargs = dict(latent_size=32, dlatent_size=32, label_size=0, resolution=16, num_channels=3, mapping_layers=2,
                    fmap_base=128, fmap_max=32, conv_clamp=256, truncation_psi=0.5)

    def gen(name):
        return Network(name, g_kwargs, [('dlatent_avg', G['mapping.w_avg'])],
                       dict(mapping=Network('G_mapping', {}, mapping, {}), synthesis=Network('G_synthesis', {}, syn, {})))

    dv = []
    for r in (16, 8):
        p = f'b{r}'
        if r == 16:
            dv += [(f'{r}x{r}/FromRGB/weight', conv(D[f'{p}.fromrgb.weight'])), (f'{r}x{r}/FromRGB/bias', D[f'{p}.fromrgb.bias'])]
        dv += [(f'{r}x{r}/Conv0/weight', conv(D[f'{p}.conv0.weight'])), (f'{r}x{r}/Conv0/bias', D[f'{p}.conv0.bias']),
               (f'{r}x{r}/Conv1_down/weight', conv(D[f'{p}.conv1.weight'])), (f'{r}x{r}/Conv1_down/bias', D[f'{p}.conv1.bias']),
               (f'{r}x{r}/Skip/weight', conv(D[f'{p}.skip.weight']))]
    dv += [('4x4/Conv/weight', conv(D['b4.conv.weight'])), ('4x4/Conv/bias', D['b4.conv.bias']),
           ('4x4/Dense0/weight', D['b4.fc.weight'].T.copy()), ('4x4/Dense0/bias', D['b4.fc.bias']),
           ('Output/weight', D['b4.out.weight'].T.copy()), ('Output/bias', D['b4.out.bias'])]
    d_kwargs = dict(label_size=0, resolution=16, num_channels=3, architecture='resnet', fmap_base=128, fmap_max=32,
                    conv_clamp=256, mbstd_group_size=4, mbstd_num_features=1)
    out = sys.argv[1] if len(sys.argv) > 1 else f'{ROOT}/test/fixtures/tiny16_tf.pkl'
    with open(out, 'wb') as f:
        pickle.dump((gen('G'), Network('D', d_kwargs, dv, {}), gen('Gs')), f, protocol=3)
    print(out)


if __name__ == '__main__':
    main()
