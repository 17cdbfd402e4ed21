from django.urls import path

from civicdesk.notifications import api

urlpatterns = [
    path("sms/inbound", api.GenericInboundView.as_view(), name="sms-inbound"),
    path("sms/inbound/twilio", api.TwilioInboundView.as_view(), name="sms-inbound-twilio"),
    path(
        "sms/inbound/africastalking",
        api.AfricasTalkingInboundView.as_view(),
        name="sms-inbound-africastalking",
    ),
]
