"""Everything a person or a unit reaches over HTTP: pages, the JSON API, enrollment.

The only part of the central that imports Flask. Each module is one blueprint; the stores
behind them come from `stores.py`, opened per request and closed when it ends. Templates
are in `templates/`, every one extending `_base.html`.
"""
