"""Worker pages: people in the user's scope and one worker's employments and decisions."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from workers.models import Employment, Worker


@login_required
def worker_list(request):
    workers = Worker.objects.visible_to(request.user)
    query = request.GET.get("q", "").strip()
    if query:
        workers = workers.filter(last_name__icontains=query)
    page = Paginator(workers, 50).get_page(request.GET.get("page"))
    return render(request, "workers/worker_list.html", {"page": page, "query": query})


@login_required
def worker_detail(request, pk: int):
    worker = get_object_or_404(Worker.objects.visible_to(request.user), pk=pk)
    employments = (
        Employment.objects.visible_to(request.user).filter(worker=worker).select_related("employer")
    )
    return render(
        request, "workers/worker_detail.html", {"worker": worker, "employments": employments}
    )
