"""Compile the Triton loss kernels for a GPU architecture without a GPU, and report their resources.

    python benchmarks/triton_sm90_compile.py                       # every kernel, bf16, every config, sm_90
    python benchmarks/triton_sm90_compile.py --dtypes fp32 --kernels clip_bwd

Triton lowers to PTX and runs its bundled ptxas, so compile errors (unsupported ops, shared memory over the
limit) and register spills (STACK bytes > 0 in cuobjdump's resource usage) show up without a GPU. It says
nothing about speed. Must run without TRITON_INTERPRET=1 (it is removed here before triton is imported).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import tempfile

os.environ.pop("TRITON_INTERPRET", None)

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from mmtutorial.losses.triton import clip_kernels, siglip_kernels  # noqa: E402
from mmtutorial.losses.triton.launch import _BWD_CONFIGS, _FWD_CONFIGS  # noqa: E402

KERNELS = {  # name: (kernel, backward?, pointer dtypes other than fp32, extra constexprs)
    "clip_fwd": (clip_kernels.clip_fwd_kernel, False, {"col_acc_ptr": "fp64"}, {"COL_STATS": True}),
    "clip_bwd": (clip_kernels.clip_bwd_kernel, True, {"ga_ptr": "IN", "gs_ptr": "fp64"}, {}),
    "siglip_fwd": (siglip_kernels.siglip_fwd_kernel, False, {"loss_acc_ptr": "fp64"}, {}),
    "siglip_bwd": (
        siglip_kernels.siglip_bwd_kernel,
        True,
        {"ga_ptr": "IN", "gs_ptr": "fp64", "gt_ptr": "fp64"},
        {},
    ),
}


def signature(kernel, dtype: str, ptr_types: dict, constexprs: dict) -> dict:
    sig = {}
    for name in kernel.arg_names:
        if name in constexprs:
            sig[name] = "constexpr"
        elif name in ("a_ptr", "b_ptr"):
            sig[name] = "*" + dtype
        elif name.endswith("_ptr"):
            sig[name] = "*" + ptr_types.get(name, "fp32").replace("IN", dtype)
        else:
            sig[name] = "i32"
    return sig


def resources(cubin: bytes) -> str:
    tool = pathlib.Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        out = subprocess.run(
            [str(tool), "--dump-resource-usage", f.name], capture_output=True, text=True
        ).stdout
    line = next((x for x in out.splitlines() if "REG:" in x), "")
    return " ".join(w for w in line.split() if w.split(":")[0] in ("REG", "STACK"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", type=int, default=90)
    p.add_argument("--kernels", nargs="+", default=list(KERNELS), choices=list(KERNELS))
    p.add_argument("--dtypes", nargs="+", default=["bf16"], choices=["bf16", "fp16", "fp32"])
    p.add_argument("--first-config-only", action="store_true")
    args = p.parse_args(argv)
    target = GPUTarget("cuda", args.arch, 32)
    failures = 0
    for dtype in args.dtypes:
        for name in args.kernels:
            kernel, backward, ptr_types, extra = KERNELS[name]
            configs = _BWD_CONFIGS if backward else _FWD_CONFIGS
            for bm, bn, bd, warps, stages in configs[:1] if args.first_config_only else configs:
                consts = dict(UPCAST=False, PRECISION="ieee" if dtype == "fp32" else "tf32", **extra)
                consts.update(BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=bd)
                tag = f"sm_{args.arch} {dtype} {name:10s} {bm}x{bn}x{bd} warps={warps} stages={stages}"
                try:
                    src = ASTSource(kernel, signature(kernel, dtype, ptr_types, consts), constexprs=consts)
                    k = triton.compile(src, target=target, options={"num_warps": warps, "num_stages": stages})
                    print(
                        f"{tag}: shared {k.metadata.shared // 1024} KB, {resources(k.asm['cubin'])}",
                        flush=True,
                    )
                except Exception as e:  # noqa: BLE001 - report every failing configuration
                    failures += 1
                    print(f"{tag}: FAILED {type(e).__name__}: {str(e).splitlines()[0][:200]}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
