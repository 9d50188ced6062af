#!/bin/bash
# Stage 2 on the device: reassemble the GGUF, rebuild the HF base, run the two gpu tests.
exec > >(tee "$OUT/run.log") 2>&1
set -x
date -u; T0=$(date +%s); REPO=$(pwd); SITE=${SITE:-/tmp/site}
if [ ! -f /tmp/model.gguf.xz.partaa ] || [ ! -d "$SITE/unsloth" ]; then echo "STAGE1 STATE MISSING (machine went cold?)"; ls /tmp; exit 3; fi
python3 - <<'PY' || exit 4
import lzma, hashlib
data = lzma.decompress(open('/tmp/model.gguf.xz.partaa','rb').read() + open('.gpuB/model.gguf.xz.partab','rb').read())
assert hashlib.sha256(data).hexdigest() == open('.gpuB/kit/gguf.sha256').read().strip(), 'gguf sha256 mismatch'
open('/tmp/model.gguf','wb').write(data); print('gguf ok', len(data))
PY
rm -rf /tmp/base && mkdir -p /tmp/base && cp .gpuB/skel/* /tmp/base/
PYTHONPATH=$SITE python3 .gpuB/kit/rebuild_base.py /tmp/model.gguf /tmp/base || exit 5
rm -rf /tmp/shim && mkdir -p /tmp/shim/cove && cp -r finetune /tmp/shim/cove/finetune
export PYTHONPATH=/tmp/shim:$SITE UNSLOTH_DISABLE_STATISTICS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1
echo "PREP_S=$(( $(date +%s) - T0 ))"
mkdir -p /tmp/gpurun && cd /tmp/gpurun
timeout ${TESTS_TIMEOUT:-450} python3 "$REPO/.gpuB/kit/gpu_tests.py" "$REPO/.gpuB/data" /tmp/base "$OUT"
echo "TESTS_RC=$?"
for r in run1 run2; do t=t${r#run}; [ -f "$OUT/$t-train.log" ] || cp /tmp/gpuwork/$r/train.log "$OUT/$t-train.log" 2>/dev/null; done
[ -f "$OUT/t1-events.jsonl" ] || cp /tmp/gpuwork/run1/events.jsonl "$OUT/t1-events.jsonl" 2>/dev/null
nvidia-smi --query-gpu=memory.used --format=csv
ls -la "$OUT"; echo "STAGE2_S=$(( $(date +%s) - T0 ))"
