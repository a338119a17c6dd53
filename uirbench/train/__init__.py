"""Training: DA-CLIP and restoration loops on shared pieces (checkpoint, ddp, amp)."""
