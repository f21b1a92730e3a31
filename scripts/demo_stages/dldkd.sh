# Demo stage `dldkd` (sourced by scripts/demo.sh, which sets PY, OUT, REPO_ROOT, DEMO_DEVICE and log).
# DL-DKD on a synthetic TVR-format feature bundle: train with early stopping (do_tvr.sh), then the test
# table (do_test.sh: R@1/5/10/100, SumR, and per-query ranks for the recall@K curve).
stage_dldkd() {
  local root="$OUT/dldkd/data"
  log "stage dldkd: synthetic TVR features -> packages/dldkd/do_tvr.sh (tiny model) -> do_test.sh"
  rm -rf "$OUT/dldkd"
  "$PY" "$REPO_ROOT/datasets/make_synthetic.py" tvr "$root" --classes 12 --videos-per-class 10
  "$REPO_ROOT/packages/dldkd/do_tvr.sh" "$root" --exp_id demo --n_epoch 8 --max_es_cnt 3 \
    --A_hidden_size 64 --B_hidden_size 64 --bsz 16 --lr 1e-3 --num_workers 0 ${DEMO_DEVICE:+--device "$DEMO_DEVICE"}
  local run
  run="$(ls -td "$root"/tvr/results/tvr-demo-* | head -n 1)"
  "$REPO_ROOT/packages/dldkd/do_test.sh" tvr i3d_resnet "$root" "$(basename "$run")" ${DEMO_DEVICE:+--device "$DEMO_DEVICE"}
  log "dldkd run folder (checkpoint, opt.json, TensorBoard, metrics, ranks): $run"
}
