from django.dispatch import Signal

# Sent once per consultation, inside the transaction that finalizes the room,
# with `room` (already ended). Billing registers the billable consultation here.
consultation_finished = Signal()
