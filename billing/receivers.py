from django.dispatch import receiver

from rooms.signals import consultation_finished

from . import services


@receiver(consultation_finished)
def register_the_consultation(sender, room, **kwargs):
    services.consultation_register(room=room)
