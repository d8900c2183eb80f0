from __future__ import annotations

from django import forms

from core.worklist import KINDS


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        help_text="Where we POST each new item (https)",
    )
    kinds = forms.MultipleChoiceField(
        label="Kinds",
        choices=list(KINDS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to receive every kind",
    )
