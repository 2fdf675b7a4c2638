"""Compile the Triton loss kernels for Hopper (sm_90) without a GPU, and report what each build uses.

    python benchmarks/triton_sm90_compile.py                      # every kernel, bf16, every configuration
    python benchmarks/triton_sm90_compile.py --dtypes bf16 fp32 --kernels clip_bwd --markdown

Triton lowers to PTX and runs its bundled ptxas, so compile errors, register use, spills, shared memory and
the instructions chosen (wgmma tensor-core ops, fences, atomics) are visible on a CPU-only machine. Arguments
are specialised as the JIT specialises a real call (contiguous rows, N = 65,536, D = 768): strides of 1 become
constants; integers and pointers divisible by 16 carry ``tt.divisibility = 16``. Without that (an older
version of this script) the loads cannot be vectorised and the figures are wrong.

Columns: registers per thread; spilled bytes (ptxas STACK/LOCAL) and STL/LDL instructions in SASS; shared
memory; CTAs per SM allowed by registers and shared memory (H100/H200: 64K registers, 228 KB); memory fences
in the PTX (``fence.acq_rel``/``fence.sc``/``membar``: default acq_rel atomics put one before each add; the
kernels use relaxed ones); atomic instructions; wgmma (HGMMA) instructions in SASS; fp64 arithmetic
instructions (DADD/DMUL/DFMA/DSETP/DMNMX) and special-function (MUFU: exp2, log2, rcp) instructions in SASS,
static counts in the code, not executions. Nothing about speed.
Exit status 1 if a configuration fails to compile, a 16-bit one spills, or any has a memory fence.
Runs without TRITON_INTERPRET (it is removed here before triton is imported).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import tempfile

os.environ.pop("TRITON_INTERPRET", None)

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from mmtutorial.losses.triton import clip_kernels, siglip_kernels  # noqa: E402
from mmtutorial.losses.triton.launch import BWD_CONFIGS, FWD_CONFIGS, GRAD_CONFIGS  # noqa: E402

# name: (kernel, configurations, pointer dtypes other than fp32 ("IN": the inputs' dtype), extra constexprs)
KERNELS = {
    "clip_fwd": (
        clip_kernels.clip_fwd_kernel,
        FWD_CONFIGS,
        {"col_acc_ptr": "fp64", "gate_ptr": "i32"},
        {"COL_STATS": True, "GATED": False},
    ),
    "clip_fwd_cols": (  # the second pass, gated on the device (only for |logits| beyond fp64's column range)
        clip_kernels.clip_fwd_kernel,
        FWD_CONFIGS,
        {"col_acc_ptr": "fp64", "gate_ptr": "i32"},
        {"COL_STATS": False, "GATED": True},
    ),
    "clip_bwd": (clip_kernels.clip_bwd_kernel, BWD_CONFIGS, {"ga_ptr": "IN", "gs_ptr": "fp64"}, {}),
    "clip_grad": (clip_kernels.clip_grad_logits_kernel, GRAD_CONFIGS, {"g_ptr": "IN"}, {}),
    "siglip_fwd": (siglip_kernels.siglip_fwd_kernel, FWD_CONFIGS, {"loss_acc_ptr": "fp64"}, {}),
    "siglip_bwd": (
        siglip_kernels.siglip_bwd_kernel,
        BWD_CONFIGS,
        {"ga_ptr": "IN", "gs_ptr": "fp64", "gt_ptr": "fp64"},
        {},
    ),
    "siglip_grad": (siglip_kernels.siglip_grad_logits_kernel, GRAD_CONFIGS, {"g_ptr": "IN"}, {}),
}
UNIT_STRIDES = ("stride_ad", "stride_bd")  # contiguous rows: the JIT turns a stride of 1 into a constant
MEMORY_FENCE = re.compile(r"\b(fence\.(?:acq_rel|sc)|membar)\b")
SASS_OP = re.compile(r"/\*[0-9a-f]{4}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]+)")
REGS_PER_SM, SHARED_PER_SM, SHARED_RESERVED = 65536, 228 * 1024, 1024


def specialise(kernel, dtype: str, ptr_types: dict, constexprs: dict) -> tuple[dict, dict, dict]:
    """(signature, constexprs, attrs) as the JIT builds them: contiguous 16-aligned inputs, N, D % 16 == 0."""
    sig, consts, attrs = {}, dict(constexprs), {}
    for i, name in enumerate(kernel.arg_names):
        if name in constexprs:
            sig[name] = "constexpr"
        elif name in UNIT_STRIDES:
            sig[name], consts[name] = "constexpr", 1
        else:
            if name in ("a_ptr", "b_ptr"):
                sig[name] = "*" + dtype
            elif name.endswith("_ptr"):
                sig[name] = "*" + ptr_types.get(name, "fp32").replace("IN", dtype)
            else:
                sig[name] = "i32"
            attrs[(i,)] = [["tt.divisibility", 16]]
    return sig, consts, attrs


def _tool(name: str) -> str:
    return str(pathlib.Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / name)


def inspect(compiled, num_warps: int) -> dict:
    """Registers, spills, shared memory, CTAs/SM, fences, atomics and wgmma count of one compiled kernel."""
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(compiled.asm["cubin"])
        f.flush()
        usage = subprocess.run(
            [_tool("cuobjdump"), "--dump-resource-usage", f.name], capture_output=True, text=True
        )
        sass = subprocess.run([_tool("cuobjdump"), "-sass", f.name], capture_output=True, text=True).stdout
    fields = dict(re.findall(r"(\w+):(\d+)", next(x for x in usage.stdout.splitlines() if "REG:" in x)))
    ops = SASS_OP.findall(sass)
    regs = int(fields["REG"])
    shared = compiled.metadata.shared
    per_cta_regs = num_warps * -(-regs * 32 // 256) * 256  # allocated per warp in units of 256
    ctas = min(
        REGS_PER_SM // per_cta_regs, SHARED_PER_SM // (shared + SHARED_RESERVED), 2048 // (32 * num_warps)
    )
    ptx = compiled.asm["ptx"]
    return {
        "regs": regs,
        "spill": int(fields.get("STACK", 0)) + int(fields.get("LOCAL", 0)),
        "stl_ldl": sum(op.startswith(("STL", "LDL")) for op in ops),
        "shared_kb": shared / 1024,
        "ctas": ctas,
        "fences": len(MEMORY_FENCE.findall(ptx)),
        "atomics": sum(op.startswith(("RED", "ATOM")) for op in ops),
        "relaxed": all("relaxed" in x for x in re.findall(r"\batom\.[\w.]+|\bred\.global[\w.]*", ptx)),
        "wgmma": sum(op.startswith("HGMMA") for op in ops),
        "fp64": sum(op.startswith(("DADD", "DMUL", "DFMA", "DSETP", "DMNMX")) for op in ops),
        "mufu": sum(op.startswith("MUFU") for op in ops),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", type=int, default=90)
    p.add_argument("--kernels", nargs="+", default=list(KERNELS), choices=list(KERNELS))
    p.add_argument("--dtypes", nargs="+", default=["bf16"], choices=["bf16", "fp16", "fp32"])
    p.add_argument("--first-config-only", action="store_true", help="only the first of each kernel's configs")
    p.add_argument("--markdown", action="store_true", help="print a markdown table (for RESULTS.md)")
    args = p.parse_args(argv)
    target = GPUTarget("cuda", args.arch, 32)
    bad = 0
    head = "kernel | dtype | BM x BN x BD | warps | stages | group | regs | spill B | STL/LDL | shared KB"
    head += " | CTA/SM | fences | atomics | relaxed | wgmma | fp64 | MUFU"
    print(f"| {head} |\n|{'---|' * 17}" if args.markdown else head.replace(" |", ""), flush=True)
    for dtype in args.dtypes:
        for name in args.kernels:
            kernel, configs, ptr_types, extra = KERNELS[name]
            for bm, bn, bd, warps, stages, *group in configs[:1] if args.first_config_only else configs:
                consts = dict(UPCAST=False, PRECISION="ieee" if dtype == "fp32" else "tf32", **extra)
                consts.update(BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=bd)
                if group:
                    consts["GROUP"] = group[0]
                if "G_SCALE" in kernel.arg_names:
                    consts["G_SCALE"] = 2.0**14 if dtype == "fp16" else 1.0
                cells = [
                    name,
                    dtype,
                    f"{bm}x{bn}x{bd}",
                    str(warps),
                    str(stages),
                    str(group[0]) if group else "-",
                ]
                try:
                    sig, const, attrs = specialise(kernel, dtype, ptr_types, consts)
                    k = triton.compile(
                        ASTSource(kernel, sig, constexprs=const, attrs=attrs),
                        target=target,
                        options={"num_warps": warps, "num_stages": stages},
                    )
                    r = inspect(k, warps)
                except Exception as e:  # noqa: BLE001 - report every failing configuration
                    bad += 1
                    print(
                        " ".join(cells) + f" FAILED {type(e).__name__}: {str(e).splitlines()[0][:160]}",
                        flush=True,
                    )
                    continue
                cells += [str(r["regs"]), str(r["spill"]), str(r["stl_ldl"]), f"{r['shared_kb']:.0f}"]
                cells += [
                    str(r["ctas"]),
                    str(r["fences"]),
                    str(r["atomics"]),
                    "yes" if r["relaxed"] else "NO",
                ]
                cells += [str(r["wgmma"]), str(r["fp64"]), str(r["mufu"])]
                spills = dtype != "fp32" and (r["spill"] or r["stl_ldl"])
                bad += bool(spills or r["fences"] or not r["relaxed"])
                sep = " | " if args.markdown else " "
                print(
                    ("| " if args.markdown else "") + sep.join(cells) + (" |" if args.markdown else ""),
                    flush=True,
                )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
