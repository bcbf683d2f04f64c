"""Accessibility of the console in a real browser: the keyboard alone signs in and reaches the
content, every field has a label, each page has one heading of level 1, and at a tablet's width
(768 px) no page scrolls sideways (wide tables scroll inside their own box)."""

from __future__ import annotations

from tests.factories import Tenant
from tests.integration.console.conftest import Console

PAGES = ("/console", "/console/tentatives", "/console/numeros", "/console/numeros/+33612345678",
         "/console/rapports", "/console/alertes", "/console/consentements", "/console/contrats",
         "/console/oppositions", "/console/campagnes", "/console/numeros-presentes",
         "/console/cles", "/console/webhooks", "/console/politique")

# every visible field without a label (its <label for>, a wrapping <label> or aria-label)
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.outerHTML.slice(0, 120))"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter(e => !e.closest('.defilement'))
  .map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').trim().slice(0, 40))"""


def test_the_keyboard_alone_signs_in_and_reaches_the_content(console: Console,
                                                             acme: Tenant) -> None:
    page = console.page
    console.goto("/console/connexion")
    # the key's field has the focus: type, Enter
    page.keyboard.type(acme.admin)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console")
    # the first Tab reaches "Aller au contenu", which moves the focus to the page's content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"
    # then the content's links, in order: the first card's "Voir les tentatives"
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Voir les tentatives":
            break
    else:
        raise AssertionError("no link of the content reached by Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/tentatives?**")


def test_every_field_is_labelled_and_no_page_scrolls_sideways_on_a_tablet(
        console: Console, acme: Tenant) -> None:
    page = console.page
    console.sign_in(acme.admin)
    for width, height in ((1280, 800), (768, 1024)):
        page.set_viewport_size({"width": width, "height": height})
        for path in PAGES:
            response = console.goto(path)
            assert response is not None and response.status == 200, path
            assert page.evaluate(UNLABELLED) == [], path
            assert page.locator("h1").count() == 1, path
            assert page.evaluate(OVERFLOW) <= 0, (path, width, page.evaluate(WIDE)[:6])
    console.shot("tablette-politique")  # the last page, at 768 px
