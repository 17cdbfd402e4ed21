from civicdesk.ledger.models.banking import BankFormat, BankLine, BankStatement
from civicdesk.ledger.models.books import Allocation, LedgerAccount, Posting, Transaction
from civicdesk.ledger.models.claims import MissingPaymentReport, RefundApproval, RefundRequest
from civicdesk.ledger.models.payments import Payment, PaymentEvent, SandboxCharge, SavedMethod

__all__ = [
    "Allocation",
    "BankFormat",
    "BankLine",
    "BankStatement",
    "LedgerAccount",
    "MissingPaymentReport",
    "Payment",
    "PaymentEvent",
    "Posting",
    "RefundApproval",
    "RefundRequest",
    "SandboxCharge",
    "SavedMethod",
    "Transaction",
]
