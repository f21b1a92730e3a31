#!/usr/bin/env bash
# DL-DKD on ActivityNet Captions with the paper's settings (the ICCV do_activitynet.sh flags:
# no --q_feat_size, so 1024, and no --margin, so 0.2).
# Usage: ./do_activitynet.sh [ROOTPATH] [extra train flags]; see do_tvr.sh.
source "$(dirname "${BASH_SOURCE[0]}")/_run.sh"
dldkd_root "$@"
[ "$DLDKD_ROOT_GIVEN" = 1 ] && shift
dldkd_require_data "$ROOTPATH" activitynet i3d train
dldkd_launch dldkd.train --collection activitynet --visual_feature i3d --root_path "$ROOTPATH" --dset_name activitynet \
  --map_size 32 --model_name DLDKD --device_ids 0 --B_hidden_size 384 --A_hidden_size 384 --n_heads 4 \
  --frame_weight 0.5 --clip_weight 0.5 --use_clip true --double_branch true --hard_negative_start_epoch 0 \
  --loss_init_weight 0.1 --decay_way 1 --linear_k -0.01 --sigmoid_k 800 --linear_b 1 --exponential_k 0.95 \
  --loss_scale_weight 0.1 "$@"
