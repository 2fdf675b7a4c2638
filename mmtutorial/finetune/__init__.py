"""Pretraining and fine-tuning (3.2.5 迁移学习).

- bookkeeping: ``freeze``, ``unfreeze``, ``set_trainable``, ``count_trainable``, ``extract_features``;
- partial fine-tuning: ``head_only``, ``top_k_blocks``, ``bitfit``;
- layer-wise: ``param_groups_lrd`` (LLRD, BEiT/MAE), ``GradualUnfreezing`` (ULMFiT);
- LoRA from scratch: ``LoRALinear``, ``DoRALinear``, ``apply_lora``, ``lora_state_dict``, ``merge_lora``;
- LP-FT: ``fit_linear_probe``, ``feature_drift``; WiSE-FT: ``wise_ft``;
- data2vec-style pretraining: ``EMATeacher``, ``get_annealed_rate``, ``layer_targets``, ``Data2VecViT``.
"""

from mmtutorial.finetune.data2vec import (
    CollapseError,
    Data2VecViT,
    EMATeacher,
    check_collapse,
    get_annealed_rate,
    layer_targets,
    masked_regression_loss,
    random_token_mask,
    token_std,
    vit_layer_outputs,
)
from mmtutorial.finetune.freezing import (
    count_trainable,
    extract_features,
    freeze,
    set_trainable,
    trainable_fraction,
    trainable_names,
    unfreeze,
)
from mmtutorial.finetune.layerwise import GradualUnfreezing, layer_id, layer_scales, param_groups_lrd
from mmtutorial.finetune.lora import (
    Conv1x1AsLinear,
    DoRALinear,
    LoRALinear,
    apply_lora,
    lora_layers,
    lora_state_dict,
    merge_lora,
    pointwise_convs_to_linear,
    unmerge_lora,
)
from mmtutorial.finetune.lp_ft import feature_drift, fit_linear_probe
from mmtutorial.finetune.partial import bitfit, head_only, top_k_blocks
from mmtutorial.finetune.wise_ft import wise_ft

__all__ = [
    "CollapseError",
    "Conv1x1AsLinear",
    "Data2VecViT",
    "DoRALinear",
    "EMATeacher",
    "GradualUnfreezing",
    "LoRALinear",
    "apply_lora",
    "bitfit",
    "check_collapse",
    "count_trainable",
    "extract_features",
    "feature_drift",
    "fit_linear_probe",
    "freeze",
    "get_annealed_rate",
    "head_only",
    "layer_id",
    "layer_scales",
    "layer_targets",
    "lora_layers",
    "lora_state_dict",
    "masked_regression_loss",
    "merge_lora",
    "param_groups_lrd",
    "pointwise_convs_to_linear",
    "random_token_mask",
    "set_trainable",
    "token_std",
    "top_k_blocks",
    "trainable_fraction",
    "trainable_names",
    "unfreeze",
    "unmerge_lora",
    "vit_layer_outputs",
    "wise_ft",
]
