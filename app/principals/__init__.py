"""Principals: the professionals for whose account calls are made, and their mandates.

The law binds "the professional, directly or through a third party acting on its behalf"
(code de la consommation, art. D223-9, L223-1): the frequency limit, the refusal cooldown,
consents and internal oppositions belong to the **principal**, across every tenant (call
centre) holding a mandate from it (rules-fr.md §1). Each tenant has its own principal, whose id
is the tenant's id, and a mandate from it: a single-tenant user never sees the difference.
"""
