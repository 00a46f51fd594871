from django.dispatch import Signal

# Sent with `record` and `closing_id` inside the transaction that voided a
# record of a pending monthly closing: the record has left the closing, and
# closings recalculates it (billing never imports closings).
record_left_closing = Signal()
