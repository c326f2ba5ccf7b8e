"""Count torchvision models with fvcore, ptflops and torchinfo, for tests/test_attention_counting.

The three counters are not dependencies of convcalc, nor of its tests: their numbers are
written into the test. To measure them again (they run the model on the CPU, with random
weights; nothing is downloaded but the three packages):

    pip install --target /tmp/tools --no-deps fvcore==0.1.5.post20221221 ptflops==0.7.5 \\
        torchinfo==1.8.0 iopath yacs tabulate termcolor portalocker tqdm
    PYTHONPATH=/tmp/tools python scripts/count_with_tools.py swin_t vit_b_16

Each line is ``model fvcore ptflops torchinfo`` at batch 1, at the crop size of the model's
DEFAULT weights: fvcore's ``FlopCountAnalysis.total()``, ptflops' pytorch backend's MACs,
torchinfo's ``total_mult_adds``.
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any


def counts(name: str) -> tuple[int, int, int]:
    import torch
    import torchvision
    from fvcore.nn import FlopCountAnalysis
    from ptflops import get_model_complexity_info
    from torchinfo import summary

    weights = torchvision.models.get_model_weights(name).DEFAULT
    size = weights.transforms.keywords["crop_size"]
    options: dict[str, Any] = {"image_size": size} if name.startswith("vit_") else {}
    model = torchvision.models.get_model(name, **options).eval()
    example = torch.randn(1, 3, size, size)
    fvcore = FlopCountAnalysis(model, example)
    fvcore.unsupported_ops_warnings(False)
    fvcore.uncalled_modules_warnings(False)
    ptflops, _ = get_model_complexity_info(model, (3, size, size), as_strings=False,
                                           print_per_layer_stat=False, backend="pytorch")
    torchinfo = summary(model, input_size=(1, 3, size, size), verbose=0).total_mult_adds
    return int(fvcore.total()), int(ptflops), int(torchinfo)


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    for model_name in sys.argv[1:]:
        print(model_name, *counts(model_name))
