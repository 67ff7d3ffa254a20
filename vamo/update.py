"""Placeholder until this app is built: answers 404."""

from vamo.component import Component
from vamo.http import not_found


def create(context):
    return Component(not_found)
