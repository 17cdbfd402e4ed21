"""The metering slot of the customer 360 page. Filled in by the back-office work."""


def register() -> None:
    pass
