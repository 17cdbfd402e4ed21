"""The ledger in the admin: everything is read-only except the bank statement formats. Money
moves only through the services (payments, statements, refunds), never by editing rows."""

from django.contrib import admin

from civicdesk.core.admin import ReadOnlyAdmin
from civicdesk.ledger.models import (
    Allocation,
    BankFormat,
    BankLine,
    BankStatement,
    LedgerAccount,
    MissingPaymentReport,
    Payment,
    PaymentEvent,
    Posting,
    RefundApproval,
    RefundRequest,
    Transaction,
)


class PostingInline(admin.TabularInline):
    model = Posting
    extra = 0
    can_delete = False
    fields = ("account", "amount_minor", "currency", "service", "provider")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "currency", "personal_account", "provider", "closed_at")
    list_filter = ("kind", "currency")
    search_fields = ("code", "name", "personal_account__number")


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("booked_at", "kind", "value_date", "reference", "currency", "actor")
    list_filter = ("kind", "currency")
    search_fields = ("reference", "description")
    date_hierarchy = "booked_at"
    inlines = [PostingInline]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "credit", "charge", "amount_minor")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "amount_minor", "currency", "gateway", "status")
    list_filter = ("status", "gateway", "channel")
    search_fields = ("id", "gateway_ref", "account__number")


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "payment", "kind", "gateway", "event_id", "outcome")
    list_filter = ("kind", "gateway")


@admin.register(BankFormat)
class BankFormatAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "bank_account", "active")
    list_filter = ("kind", "active")


@admin.register(BankStatement)
class BankStatementAdmin(ReadOnlyAdmin):
    list_display = ("imported_at", "bank_format", "statement_id", "line_count", "matched_count")


@admin.register(BankLine)
class BankLineAdmin(ReadOnlyAdmin):
    list_display = ("booked_on", "amount_minor", "currency", "reference", "status", "account")
    list_filter = ("status",)
    search_fields = ("reference", "counterparty", "bank_ref")


@admin.register(MissingPaymentReport)
class MissingPaymentReportAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "paid_on", "amount_minor", "status", "case")
    list_filter = ("status",)


class RefundApprovalInline(admin.TabularInline):
    model = RefundApproval
    extra = 0
    can_delete = False
    readonly_fields = ("approver", "decision", "note", "created_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RefundRequest)
class RefundRequestAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "amount_minor", "currency", "status")
    list_filter = ("status",)
    inlines = [RefundApprovalInline]
