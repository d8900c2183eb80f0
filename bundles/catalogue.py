"""The platform's catalogue of interdisciplinary team roles (plans may add their own).

Billing follows Medicare practice: physicians, NPs and PAs bill E/M, ACP and care management;
RNs, LVNs, social workers, chaplains, navigators, pharmacists and aides bill nothing under FFS in
a palliative program, which is the gap a bundle closes.
"""

PRESCRIBER_CODES = [
    "99341",
    "99342",
    "99344",
    "99345",
    "99347",
    "99348",
    "99349",
    "99350",
    "99202",
    "99203",
    "99204",
    "99205",
    "99212",
    "99213",
    "99214",
    "99215",
    "99497",
    "99498",
    "99487",
    "99489",
    "99490",
    "99491",
    "99495",
    "99496",
]

PLATFORM_ROLES = [
    # code, name, bills_ffs, service codes, prescriber
    ("physician", "Physician", True, PRESCRIBER_CODES, True),
    ("np", "Nurse practitioner", True, PRESCRIBER_CODES, True),
    ("pa", "Physician assistant", True, PRESCRIBER_CODES, True),
    ("rn", "Registered nurse", False, [], False),
    ("lvn", "Licensed vocational nurse", False, [], False),
    ("lcsw", "Licensed clinical social worker", False, [], False),
    ("chaplain", "Chaplain", False, [], False),
    ("chw", "Care navigator / community health worker", False, [], False),
    ("pharmacist", "Pharmacist", False, [], False),
    ("hha", "Home health aide", False, [], False),
]


def ensure_platform_roles(idt_role_model) -> None:
    """Create or refresh the platform catalogue (used by the data migration and by demo seeding,
    since test databases that are flushed between tests lose migration data)."""
    for order, (code, name, bills_ffs, codes, prescriber) in enumerate(PLATFORM_ROLES):
        idt_role_model.objects.update_or_create(
            organization=None,
            code=code,
            defaults={
                "name": name,
                "bills_ffs": bills_ffs,
                "service_codes": codes,
                "prescriber": prescriber,
                "sort_order": order,
            },
        )
