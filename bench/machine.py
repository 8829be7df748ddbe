"""Machine facts recorded beside every benchmark result."""

from __future__ import annotations

import os
import platform


def machine_info() -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    # bf16 units decide the CLIP runtime (core/vision/clip_openvino.py); hosts differ
                    flags = set(line.split(":", 1)[1].split())
                    info["cpu_bf16"] = sorted(flags & {"avx512_bf16", "amx_bf16"})
                    break
        with open("/proc/meminfo", encoding="utf-8") as fh:
            info["mem_total_kb"] = int(fh.readline().split()[1])
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info
