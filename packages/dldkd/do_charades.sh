#!/usr/bin/env bash
# DL-DKD on Charades-STA. Only the DL-DKD++ (master) branch ships a Charades script; this runs its
# flags with the ICCV objective (--label_style hard, KD schedule 0.1*0.95^e). For the DL-DKD++
# objective add: --label_style soft --distill_loss_decay exp --seed 9527 --n_epoch 120
# Usage: ./do_charades.sh [ROOTPATH] [extra train flags]; see do_tvr.sh.
source "$(dirname "${BASH_SOURCE[0]}")/_run.sh"
dldkd_root "$@"
[ "$DLDKD_ROOT_GIVEN" = 1 ] && shift
dldkd_require_data "$ROOTPATH" charades i3d_rgb_lgi train
dldkd_launch dldkd.train --collection charades --visual_feature i3d_rgb_lgi --root_path "$ROOTPATH" --dset_name charades \
  --exp_id charades_DLDKD --q_feat_size 1024 --lr 0.00024 --drop 0.15 --input_drop 0.15 --device_ids 0 \
  --B_hidden_size 384 --A_hidden_size 384 --n_heads 4 --use_clip true --double_branch true \
  --hard_negative_start_epoch 0 --decay_way 1 --exponential_k 0.95 --loss_scale_weight 0.1 --label_style hard "$@"
