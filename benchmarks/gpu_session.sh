#!/usr/bin/env bash
# Everything a lent GPU machine should run, in calls of at most ~9.5 minutes each:
#   A. quiet:    throughput vs diffusers (fp32 and bf16), the few-step study's s/step timing
#   B. parallel: the GPU tests + the full suite, and the long trainings a 2-core CPU cannot afford,
#                each stopped by train.time_limit so the call always ends in time
#   C. quiet:    shortcut speed-up on the GPU; then every evaluation on the GPU, in parallel
#   D. pack:     results, logs and inference-only exports of the models into OUTDIR/*.tgz (< 16 MB each)
#
# Usage, on the device machine from the repository root (difflab and diffusers importable):
#   bash benchmarks/gpu_session.sh OUTDIR [TRAIN_SECONDS] [PARTS]
# PARTS (comma list, default all but dmz_long and dmz_patches): bench, tests, fewsteps, dmz, dmz_long,
#        dmz_patches, sweeps, sweep_default, patches_fewsteps, models
set -u
OUTDIR=${1:?usage: gpu_session.sh OUTDIR [TRAIN_SECONDS] [PARTS]}
TRAIN_S=${2:-180}
PARTS=${3:-bench,tests,fewsteps,dmz,sweeps,sweep_default,patches_fewsteps,models}
R=runs/gpu
LOG=$R/logs
mkdir -p "$LOG" "$OUTDIR"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
PY=python3
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
has() { [[ ",$PARTS," == *",$1,"* ]]; }
LIM="train.time_limit=$TRAIN_S train.steps=20000 train.checkpoint_every=5000 train.device=cuda"
FS="experiments/distributional/few_steps.py --scale gpu --device cuda --steps 20000 --out $R/distributional \
    --time-limit $TRAIN_S --n 1000 --churn 0 0.5 1"
# name:config:overrides (comma-separated); "long" runs train alone for longer (fewer processes share the GPU)
DMZ="d16:digits-dmz: d8:digits-dmz:encoder.dim=8 d32:digits-dmz:encoder.dim=32 \
     d16_adagn:digits-dmz:encoder.z_mode=adagn d16_time:digits-dmz:encoder.z_mode=time \
     uncond:digits:network.base_channels=32"
DMZ_LONG="long_d16:digits-dmz: long_d16_flip0.1:digits-dmz:encoder.flip=0.1 \
     long_d16_flip0.2:digits-dmz:encoder.flip=0.2 long_uncond:digits:network.base_channels=32"
DMZ_PATCHES="patches_dmz:patches-dmz:encoder.flip=0.2 patches_uncond:patches:"
DMZ_SET=""
has dmz && DMZ_SET="$DMZ_SET $DMZ"
has dmz_patches && DMZ_SET="$DMZ_SET $DMZ_PATCHES"
has dmz_long && DMZ_SET="$DMZ_SET $DMZ_LONG"
SWEEP=""
# the config's own settings (m = 4) and the paper's m = 8, at the steps the time-limited sweeps reached
has sweep_default && SWEEP="default:train.steps=1550,train.time_limit=0 m8:method.m=8,train.steps=1550,train.time_limit=0"
has sweeps && SWEEP="$SWEEP lam0:method.lam=0 lam0.5:method.lam=0.5 beta0.5:method.beta=0.5 beta2:method.beta=2 m2:method.m=2 \
       m4:method.m=4 kernel_imq:method.rule=kernel,method.kernel=imq"

stamp "A: device and quiet benchmarks ($PARTS)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, torch.cuda.get_device_name())"
if has bench; then
  for prec in fp32 bf16; do
    $PY benchmarks/bench_training.py --device cuda --precision $prec --shapes digits,patches,cifar10 \
        --batch 128 --repeats 30 --json $R/bench_training_$prec.json 2>&1 | tee $LOG/bench_training_$prec.log
  done
fi
has fewsteps && $PY $FS --dataset digits --phase timing > $LOG/fs_timing.log 2>&1
has patches_fewsteps && $PY $FS --dataset patches --phase timing > $LOG/fs_patches_timing.log 2>&1

stamp "B: tests and trainings in parallel (${TRAIN_S} s each)"
if has tests; then
  ( $PY -m pytest -q -p no:cacheprovider tests/gpu > $LOG/tests_gpu.log 2>&1
    timeout $TRAIN_S $PY -m pytest -q -p no:cacheprovider -n 4 tests > $LOG/tests_all.log 2>&1 ) &
fi
if has fewsteps; then
  for ph in regression distributional; do $PY $FS --dataset digits --phase $ph > $LOG/fs_$ph.log 2>&1 & done
fi
if has patches_fewsteps; then
  for ph in regression distributional; do $PY $FS --dataset patches --phase $ph > $LOG/fs_patches_$ph.log 2>&1 & done
fi
for item in $DMZ_SET; do
  IFS=: read -r name config overrides <<< "$item"
  $PY experiments/dmz/digits.py train --root $R/dmz $name configs/$config.yaml $LIM ${overrides//,/ } \
      > $LOG/dmz_$name.log 2>&1 &
done
for item in $SWEEP; do  # one change at a time from configs/digits-distributional.yaml (energy, λ = 1, β = 1, m = 4)
  overrides=${item#*:}
  $PY -m difflab train configs/digits-distributional.yaml --out $R/sweep/${item%%:*} train.batch_size=128 \
      $LIM ${overrides//,/ } > $LOG/sweep_${item%%:*}.log 2>&1 &
done
if has models; then
  $PY -m difflab train configs/patches.yaml --out $R/patches $LIM > $LOG/patches.log 2>&1 &
  $PY -m difflab train experiments/representations/digits-drl.yaml --out $R/drl $LIM > $LOG/drl.log 2>&1 &
  $PY -m difflab train configs/digits.yaml --out $R/unet32 network.base_channels=32 $LIM > $LOG/unet32.log 2>&1 &
fi
wait
stamp "B done"; tail -n 3 $LOG/tests_*.log 2>/dev/null

stamp "C: shortcut speed-up on the GPU (quiet), then evaluations in parallel"
if has models && has fewsteps; then
  for run in $R/patches $R/distributional/digits/regression; do
    name=$(basename $(dirname $run))_$(basename $run)
    timeout 60 $PY benchmarks/bench_shortcuts.py $run --device cuda --n 500 --periods 3 --repeats 5 \
        --json $R/shortcuts_$name.json > $LOG/shortcuts_$name.log 2>&1
    cat $LOG/shortcuts_$name.log
  done
fi
has fewsteps && timeout 200 $PY $FS --dataset digits --phase eval > $LOG/fs_eval.log 2>&1 &
has patches_fewsteps && timeout 200 $PY $FS --dataset patches --phase eval > $LOG/fs_patches_eval.log 2>&1 &
for item in $DMZ_SET; do
  name=${item%%:*}
  timeout 200 $PY experiments/dmz/digits.py eval $name --root $R/dmz --device cuda --steps ${DMZ_STEPS:-2,4,8,16,32,100} \
      --n ${DMZ_N:-1000} > $LOG/dmz_eval_$name.log 2>&1 &
done
for item in $SWEEP; do
  name=${item%%:*}
  for churn in 0 1; do
    timeout 200 $PY -m difflab evaluate $R/sweep/$name --steps 1,2,4,8,16 --sampler distributional \
        --churn $churn --n 1000 --device cuda --out $R/sweep/$name/eval_churn$churn \
        > $LOG/sweep_eval_${name}_$churn.log 2>&1 &
  done
done
wait
stamp "C done"

stamp "D: pack"
# Inference-only exports (EMA weights + config), grouped so each archive stays under 16 MB.
$PY - "$R" "$OUTDIR" "$PARTS" <<'PACK'
import sys, tarfile, tempfile
from pathlib import Path
from difflab.io import latest_checkpoint, nearest_checkpoint
from difflab.pipeline.run import export_run

R, OUT, parts = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(",")

def latest(run):
    found = latest_checkpoint(R / run / "checkpoints")
    return [found] if found else []

def near(run, step):
    found = nearest_checkpoint(R / run / "checkpoints", step)
    return [found] if found else []

def fewsteps(data):
    dist, reg = latest(f"distributional/{data}/distributional"), f"distributional/{data}/regression"
    return [*dist, *(near(reg, int(dist[0].name[5:])) if dist else []), *latest(reg)]

groups = {
    "fs": fewsteps("digits") if "fewsteps" in parts else [],
    "fs_patches": fewsteps("patches") if "patches_fewsteps" in parts else [],
    "dmz_a": [c for r in ("d16", "uncond", "d8") for c in latest(f"dmz/{r}")] if "dmz" in parts else [],
    "dmz_b": [c for r in ("d32", "d16_adagn", "d16_time") for c in latest(f"dmz/{r}")] if "dmz" in parts else [],
    "dmz_long": [c for r in ("long_d16", "long_d16_flip0.1", "long_d16_flip0.2", "long_uncond")
                 for c in latest(f"dmz/{r}")] if "dmz_long" in parts else [],
    "other": [c for r in ("patches", "drl", "unet32") for c in latest(r)] if "models" in parts else [],
}
for name, ckpts in groups.items():
    if not ckpts:
        continue
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(OUT / f"{name}.tgz", "w:gz") as tar:
        for c in dict.fromkeys(ckpts):
            run = c.parent.parent.relative_to(R)  # unpacks as <run>/config.yaml + <run>/checkpoints/step_*
            try:
                saved = export_run(c, Path(tmp) / run / c.name)  # runs may share step names
            except Exception as exc:  # keep packing the others
                print(f"export {c} failed: {exc}")
                continue
            tar.add(saved, arcname=str(run / "checkpoints" / c.name))
            tar.add(saved.parent.parent / "config.yaml", arcname=str(run / "config.yaml"))
    print(name, (OUT / f"{name}.tgz").stat().st_size // 2**20, "MB")
PACK
tar czf $OUTDIR/results.tgz --exclude=checkpoints --exclude='*.npy' $R
ls -la $OUTDIR
stamp "end"; grep -h "FD\|done\|passed\|failed\|Error" $LOG/*.log | tail -n 30
