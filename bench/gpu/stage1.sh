#!/bin/bash
# Stage 1 on the device: unpack the wheels' site dir, park GGUF part A in /tmp, smoke-import.
exec > >(tee "$OUT/stage1.log") 2>&1
set -x
date -u; T0=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
rm -rf /tmp/site && mkdir -p /tmp/site
python3 -c "import tarfile; tarfile.open('.gpuA/site.tar.xz').extractall('/tmp/site')"
cp .gpuA/model.gguf.xz.partaa /tmp/model.gguf.xz.partaa
ls /tmp/site | head -60 | tr '\n' ' '; echo
python3 -m pip list 2>/dev/null | grep -iE "^(torch|transformers|peft|accelerate|fsspec|triton|huggingface.hub|numpy|pyarrow|safetensors|torchvision|pandas) "
export PYTHONPATH=/tmp/site UNSLOTH_DISABLE_STATISTICS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1
cd /tmp && timeout 200 python3 -c "
import time; t=time.time()
import unsloth
from unsloth import FastLanguageModel, is_bfloat16_supported
from unsloth.chat_templates import train_on_responses_only
import trl, datasets, bitsandbytes as bnb, peft, transformers, torch
from trl import SFTConfig, SFTTrainer
print('VERSIONS unsloth', unsloth.__version__, 'trl', trl.__version__, 'datasets', datasets.__version__, 'bnb', bnb.__version__, 'peft', peft.__version__, 'transformers', transformers.__version__, 'torch', torch.__version__, 'bf16', is_bfloat16_supported(), 'import_s', round(time.time()-t,1))
"
echo "IMPORT_RC=$?"; echo "STAGE1_S=$(( $(date +%s) - T0 ))"
