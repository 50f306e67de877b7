"""Per-matrix time of a ternary layer's kernels (int8, float_codes, dense) against fp32.

``TernaryLinear``'s ``auto`` kernel picks int8 from ``INT8_MIN_WEIGHTS`` weights a matrix
and float_codes below (``runtime/formats/ternary.py``); this measures where int8 starts to
win. For each shape (tokens, in, out) it builds a seeded random layer stored ternary with
8-bit activations and times one forward (no gradients) with the ``int8`` and
``float_codes`` kernels (``runtime.formats.ternary_int8``), the ``dense`` reference
(quantised input times the cached float32 ``gamma * codes``) and a plain fp32
``nn.Linear`` of the same shape, interleaved round by round; each call gets a new input,
so no quantised activations are reused. Prints the median microseconds a call and int8's
time over float_codes'. The default shapes are the decode-time matmuls of the
speed benchmark's two models (``benchmarks/bitnet_speed.py``): the Cognate tiny model runs
its whole prefix each step (16 to 48 tokens; fused groups of 768 and 771 rows), the 28.8M
Llama one token (hidden 512, MLP 1536).

    python benchmarks/ternary_kernel_sizes.py --threads 1
    python benchmarks/ternary_kernel_sizes.py --shapes 1x512x512 48x128x771
"""

from __future__ import annotations

import argparse
import statistics
import time

DEFAULT_SHAPES = ("1x128x128", "1x128x768", "1x256x512", "1x512x256", "1x512x512",
                  "1x512x1536", "1x1536x512", "16x128x128", "16x128x771", "48x128x128",
                  "48x384x128", "48x128x771", "48x512x512")


def layers(in_features: int, out_features: int) -> dict:
    """The fp32 layer and its ternary form under each kernel (one seeded weight)."""
    import torch

    from runtime.formats.ternary import convert

    torch.manual_seed(0)
    fp32 = torch.nn.Linear(in_features, out_features, bias=False)
    variants = {"fp32": fp32}
    for kernel in ("int8", "float_codes", "dense"):
        holder = torch.nn.Sequential(torch.nn.Linear(in_features, out_features, bias=False))
        holder[0].weight.data.copy_(fp32.weight.data)
        convert(holder, ["0"], activation_bits=8)
        holder[0].kernel = kernel
        variants[kernel] = holder[0]
    return variants


def time_shape(tokens: int, in_features: int, out_features: int, rounds: int,
               calls: int, cpu_clock: bool = False) -> dict[str, float]:
    """Median microseconds a call of each variant (interleaved rounds)."""
    import torch

    variants = layers(in_features, out_features)
    inputs = [torch.randn(tokens, in_features, generator=torch.Generator().manual_seed(i))
              for i in range(8)]
    seconds = {name: [] for name in variants}
    clock = time.process_time if cpu_clock else time.perf_counter
    with torch.no_grad():
        for layer in variants.values():  # warm-up: caches, prepacked codes
            for x in inputs:
                layer(x.clone())
        for _ in range(rounds):
            for name, layer in variants.items():
                fresh = [x.clone() for _ in range(calls // len(inputs) + 1) for x in inputs]
                start = clock()
                for x in fresh[:calls]:
                    layer(x)
                seconds[name].append((clock() - start) / calls)
    return {name: 1e6 * statistics.median(s) for name, s in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(DEFAULT_SHAPES),
                        help="tokens x in x out, e.g. 1x512x1536")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall-clock or this process's CPU seconds (a shared machine)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"{args.threads} thread(s), median of {args.rounds} rounds of {args.calls} calls, "
          f"{args.clock} clock")
    print(f"{'tokens x in x out':>18}{'weights':>10}{'fp32 us':>9}{'dense us':>9}"
          f"{'f_codes us':>11}{'int8 us':>9}{'int8/f_codes':>13}")
    for shape in args.shapes:
        tokens, in_features, out_features = (int(v) for v in shape.split("x"))
        us = time_shape(tokens, in_features, out_features, args.rounds, args.calls,
                        args.clock == "cpu")
        print(f"{shape:>18}{in_features * out_features:>10,}{us['fp32']:>9.1f}"
              f"{us['dense']:>9.1f}{us['float_codes']:>11.1f}{us['int8']:>9.1f}"
              f"{us['int8'] / us['float_codes']:>13.2f}")


if __name__ == "__main__":
    main()
