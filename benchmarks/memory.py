"""Peak memory of one loss-and-gradient call, each implementation by its own measure.

Every measure is the memory the call needs *beyond its inputs* (which exist before the call
and are not counted): the temporaries and outputs alive at its peak, in bytes.

- ``tracemalloc_peak(call)``, for NumPy code (generated, hand-written, the floor, HIPS
  autograd): the peak of Python's tracemalloc during one call, less what was traced before
  it. NumPy reports every array buffer it allocates to tracemalloc, so this counts every
  temporary and output array. Memory allocated outside Python's and NumPy's allocators
  (BLAS's own workspace, numba's NRT arrays) is not seen.
- ``xla_peak(compiled)``, for jax.jit: the compiled executable's ``memory_analysis()``,
  ``temp_size_in_bytes + output_size_in_bytes``: XLA's buffer assignment, planned before the
  call (the temporaries' buffer at its largest plus the outputs); ``argument_size_in_bytes``
  (the inputs) is left out, as for the others.
- ``torch_profiler_peak(call)``, for torch on the CPU: torch.profiler with
  ``profile_memory=True`` records every allocation and free of torch's CPU allocator during
  one call; the peak of their running sum.

Each returns ``(bytes, name of the measure)``; a call is run once before it is measured, so
that one-time work (imports, caches, compilation) is not counted. Buffers an implementation
keeps between calls (a generated module's ``_WORKSPACE``) are needed by every call, so
``tracemalloc_peak`` empties them first (``reset``): the measured call makes them anew and
they count.
"""
import gc
import tracemalloc

TRACEMALLOC = "tracemalloc"
XLA = "XLA memory_analysis (temp + output)"
TORCH_PROFILER = "torch.profiler allocations"


def tracemalloc_peak(call, reset=None):
    call()
    if reset is not None:
        reset()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = call()                                   # kept alive: the outputs count
        peak = tracemalloc.get_traced_memory()[1] - before
        del result
    finally:
        tracemalloc.stop()
    return float(peak), TRACEMALLOC


def xla_peak(compiled):
    stats = compiled.memory_analysis()
    return float(stats.temp_size_in_bytes + stats.output_size_in_bytes), XLA


def torch_profiler_peak(call):
    from torch.profiler import ProfilerActivity, profile
    call()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = call()
    del result
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    live = peak = 0
    for _, nbytes in events:                              # allocations > 0, frees < 0
        live += nbytes
        peak = max(peak, live)
    return float(peak), TORCH_PROFILER
