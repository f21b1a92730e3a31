#!/usr/bin/env bash
# DL-DKD on TVR with the paper's settings (the ICCV do_tvr.sh flags).
# Usage: ./do_tvr.sh [ROOTPATH] [extra train flags, e.g. --label_style soft --device cpu]
#   ROOTPATH defaults to $VIDEOKD_DATA (or the older $DLDKD_DATA), else <repo>/data.
#   Results: ROOTPATH/tvr/results/<run>/ (opt.json, model.ckpt, train.log.txt, TensorBoard, metrics).
#   NPROC=N (or auto) trains with N processes (DDP); the global batch stays --bsz videos.
source "$(dirname "${BASH_SOURCE[0]}")/_run.sh"
dldkd_root "$@"
[ "$DLDKD_ROOT_GIVEN" = 1 ] && shift
dldkd_require_data "$ROOTPATH" tvr i3d_resnet train
dldkd_launch dldkd.train --collection tvr --visual_feature i3d_resnet --root_path "$ROOTPATH" --dset_name tvr \
  --q_feat_size 768 --model_name DLDKD --margin 0.1 --device_ids 0 --B_hidden_size 384 --A_hidden_size 384 \
  --n_heads 4 --frame_weight 0.5 --clip_weight 0.5 --use_clip true --double_branch true \
  --hard_negative_start_epoch 0 --loss_init_weight 0.1 --decay_way 1 --linear_k -0.01 --sigmoid_k 800 \
  --linear_b 1 --exponential_k 0.95 --loss_scale_weight 0.1 "$@"
