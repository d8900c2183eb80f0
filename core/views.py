from django.core.paginator import Paginator
from django.shortcuts import render

from core.selectors import access_event_list
from web.decorators import scoped_view


@scoped_view
def access_log(request):
    events = access_event_list(scope=request.scope)
    username = request.GET.get("user", "").strip()
    if username:
        events = events.filter(user__username=username)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "core/access_log.html", {"page": page, "username": username})
