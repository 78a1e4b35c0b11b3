"""The role predicates of ``portal.roles`` as template filters, so a page asks the same
question as its view: ``{% if user|is_employer_user %}``."""

from django import template

from portal import roles

register = template.Library()

for _predicate in (roles.is_employer_user, roles.is_site_staff):
    register.filter(_predicate.__name__, _predicate)
