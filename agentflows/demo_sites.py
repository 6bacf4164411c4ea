"""The demo's company websites: a small site per CRM account, served on loopback.

Every seeded account's domain ends in `.example`, which resolves nowhere, so without these sites the
demo's briefs only ever say "Web: unavailable". `agentflows demo` builds one site per account from
its CRM row (name, industry, region, size) and its won deals (home, about, products, news; plain
HTML), serves them all from one loopback port, keyed by the request's `Host` header, and maps
`*.example` to that port through `AGENTFLOWS_WEB_HOSTS` for its own stack only (see `agentflows.guarded_fetch`).

The pages are generated, deterministic per account, and say nothing from the CRM's private history
(notes, calls, emails): only what a company would publish about itself.
"""

from __future__ import annotations

import html
import random
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import Account, Deal, DealStage

DEMO_DOMAINS = "*.example"

# What a company in each industry makes or does: (product, what it does), and news it might publish.
_OFFERINGS: dict[str, list[tuple[str, str]]] = {
    "Retail": [
        ("Store Pickup", "lets shoppers collect online orders within two hours"),
        ("Loyalty Club", "rewards repeat customers across every store and the web shop"),
        ("Home Delivery", "brings groceries and household goods to the door the same day"),
    ],
    "Logistics": [
        ("Cold Chain", "moves temperature-controlled freight with live temperature tracking"),
        ("Cross-Dock", "turns inbound pallets into outbound routes within one shift"),
        ("Last Mile", "delivers parcels to homes and shops with two-hour time slots"),
    ],
    "Healthcare": [
        ("Outpatient Clinics", "see patients the same week for routine and specialist care"),
        ("Remote Monitoring", "follows chronic patients at home between visits"),
        ("Lab Services", "returns routine test results within a day"),
    ],
    "Financial Services": [
        ("Business Lending", "funds growing companies with decisions in five working days"),
        ("Treasury Services", "manages cash and payments for mid-sized companies"),
        ("Wealth Advice", "plans savings and pensions for families and business owners"),
    ],
    "Manufacturing": [
        ("Precision Parts", "machines components to tight tolerances for industrial customers"),
        ("Custom Assemblies", "builds sub-assemblies to customer drawings in small batches"),
        ("Field Service", "keeps installed equipment running with planned maintenance"),
    ],
    "Software": [
        ("Platform", "gives operations teams one place to plan, track and report their work"),
        ("Integrations", "connects the platform to the ERP, CRM and HR tools customers already use"),
        ("Mobile App", "puts tasks and approvals on the phones of field staff"),
    ],
    "Education": [
        ("Degree Programmes", "teaches full-time and part-time students on campus and online"),
        ("Professional Courses", "trains working adults in evening and weekend classes"),
        ("Learning Portal", "gives every student their courses, grades and timetable in one place"),
    ],
    "Hospitality": [
        ("City Hotels", "host business and leisure guests close to transport links"),
        ("Meetings and Events", "plans conferences and celebrations for ten to five hundred people"),
        ("Restaurants", "serve seasonal menus built on regional suppliers"),
    ],
    "Energy": [
        ("Solar Parks", "generate renewable power under long-term supply contracts"),
        ("Grid Services", "balance supply and demand for network operators"),
        ("Business Energy", "supplies electricity and gas to commercial customers"),
    ],
    "Media": [
        ("Digital News", "publishes local and national news around the clock"),
        ("Podcasts", "produces weekly shows on business, culture and sport"),
        ("Brand Studio", "creates campaigns and video for advertisers"),
    ],
}
_DEFAULT_OFFERINGS = [
    ("Core Services", "serves business customers across the region"),
    ("Consulting", "helps customers plan and run their projects"),
]
_NEWS = [
    "{name} opened a new site in {region} to serve customers closer to home.",
    "{name} passed {employees} employees and is hiring for operations and finance roles.",
    "{name} launched an updated {product} offering after a year of customer pilots.",
    "{name} was named one of the fastest-growing {industry_lower} companies in {region}.",
    "{name} started a programme to cut energy use across its operations by a fifth.",
    "{name} signed a partnership with a regional university on apprenticeships.",
]


@dataclass
class DemoSite:
    """One account's website: its pages by path."""

    domain: str
    company: str
    pages: dict[str, str] = field(default_factory=dict)


def _page(site_name: str, title: str, body: str) -> str:
    nav = " | ".join(
        f'<a href="{path}">{label}</a>'
        for path, label in (("/", "Home"), ("/about", "About"), ("/products", "Products"), ("/news", "News"))
    )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><header><nav>{nav}</nav></header>"
        f"<main><article>{body}</article></main>"
        f"<footer><p>Copyright 2026 {html.escape(site_name)}. All rights reserved.</p></footer></body></html>"
    )


def build_site(account: Account, won_products: list[str], seller_company: str) -> DemoSite:
    """The pages of one account's site, the same on every run for the same CRM row."""
    rng = random.Random(account.id)
    name, region, industry = account.name, account.region, account.industry
    offerings = list(_OFFERINGS.get(industry, _DEFAULT_OFFERINGS))
    rng.shuffle(offerings)
    founded = 1960 + rng.randint(0, 55)
    e = html.escape
    article = "an" if industry[:1] in "AEIOU" else "a"
    about = (
        f"<p>{e(name)} is {article} {e(industry.lower())} company based in {e(region)} with about "
        f"{account.employees:,} employees.</p>"
        f"<p>Founded in {founded}, {e(name)} {e(offerings[0][1])}.</p>"
    )
    products = "".join(f"<p>{e(product)}: our {e(product.lower())} team {e(what)}.</p>" for product, what in offerings)
    news_items = rng.sample(_NEWS, 3)
    news = [
        item.format(
            name=name,
            region=region,
            employees=f"{account.employees:,}",
            product=offerings[1 % len(offerings)][0],
            industry_lower=industry.lower(),
        )
        for item in news_items
    ]
    if won_products:  # the account is our customer: companies say which tools they chose
        news.append(f"{name} now runs its weekly reporting on {seller_company}'s {won_products[0]}.")
    months = ["March", "June", "September", "October"]
    news_html = "".join(f"<p>{months[i % len(months)]} 2026: {e(item)}</p>" for i, item in enumerate(news))
    home = (  # no heading before the first paragraph: page text is one line, and it would run into it
        f"{about}<h2>What we do</h2>{products}<h2>Latest news</h2><p>{months[0]} 2026: {e(news[0])}</p>"
    )
    site = DemoSite(domain=account.domain, company=name)
    site.pages = {
        "/": _page(name, f"{name} - {industry} in {region}", home),
        "/about": _page(name, f"About {name}", f"<h1>About {e(name)}</h1>{about}"),
        "/products": _page(name, f"{name} products", f"<h1>Products and services</h1>{products}"),
        "/news": _page(name, f"{name} news", f"<h1>News</h1>{news_html}"),
    }
    return site


def build_sites(seller_company: str) -> dict[str, DemoSite]:
    """A site for every account in the CRM, keyed by its domain (one query for accounts, one for deals)."""
    won: dict[int, list[str]] = {}
    with session_scope() as session:
        for account_id, product in session.execute(
            select(Deal.account_id, Deal.product).where(Deal.stage == DealStage.WON).order_by(Deal.id)
        ):
            won.setdefault(account_id, []).append(product)
        accounts = list(session.scalars(select(Account).order_by(Account.id)))
        return {a.domain.lower(): build_site(a, won.get(a.id, []), seller_company) for a in accounts if a.domain}


class _Handler(BaseHTTPRequestHandler):
    server: _SitesHTTPServer
    server_version = "agentflows-demo-sites"

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip().lower()
        site = self.server.sites.get(host)
        page = site.pages.get(self.path.split("?", 1)[0].rstrip("/") or "/") if site else None
        if page is None:
            self._send(404, "<!doctype html><html><body><h1>Not found</h1></body></html>")
        else:
            self._send(200, page)

    def _send(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet: the demo's terminal is for people
        pass


class _SitesHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sites: dict[str, DemoSite]) -> None:
        super().__init__(address, _Handler)
        self.sites = sites


class DemoSiteServer:
    """Every demo site behind one loopback port (0: any free one), in a thread of this process."""

    def __init__(self, sites: dict[str, DemoSite], host: str = "127.0.0.1", port: int = 0) -> None:
        self.sites = sites
        self._server = _SitesHTTPServer((host, port), sites)
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-sites", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def hosts_mapping(self) -> dict[str, str]:
        """The `web_hosts` setting that sends every demo domain here."""
        return {DEMO_DOMAINS: self.address}

    def start(self) -> DemoSiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> DemoSiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
