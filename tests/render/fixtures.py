"""Realistic briefs for the renderer's tests and benchmark (an honest size budget test).

``DIGEST``: eight briefs with long-ish facts, sources with URLs (and a few without a URL or
a label), images with credits, two or three perspectives, forecasts and establishment
splits, as the newsroom writes them. ``WEEK``: the twelve briefs of ``examples/briefs``, a
whole week with every narrative (the size budget's goal: it fits whole).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from newsletter.briefs.document import Brief
from newsletter.briefs.importer import brief_files, read_brief_file
from newsletter.briefs.plaintext import load_plaintext
from tests.conftest import SEED_BRIEF


def seed_brief() -> Brief:
    return load_plaintext(SEED_BRIEF.read_text(encoding="utf-8"), source=str(SEED_BRIEF))


def _brief(**fields: Any) -> Brief:
    return Brief.model_validate({"status": "ready", **fields})


def _sources(*items: tuple[str | None, str | None]) -> list[dict[str, Any]]:
    return [{"number": i, "label": label, "url": url} for i, (label, url) in enumerate(items, 1)]


CLIMATE = _brief(
    slug="eu-agrees-2040-climate-target",
    title="EU Agrees 90% Emissions Cut by 2040 After Overnight Talks",
    updated=date(2026, 11, 19),
    image_url="https://images.example-news.org/2026/11/brussels-council-night.jpg",
    image_credit="Council of the EU / Audiovisual Service",
    image_alt="Ministers around the council table in Brussels late at night",
    topics=["climate", "europe"],
    facts=[
        {
            "text": "European Union environment ministers agreed early on Wednesday to cut net "
            "greenhouse gas emissions 90% below 1990 levels by 2040, after talks in Brussels "
            "ran through the night and into the morning.",
            "citations": [1, 2],
        },
        {
            "text": "Up to five percentage points of the target may be met with international "
            "carbon credits bought from outside the bloc from 2036, a concession sought by "
            "France, Italy and Poland that critics say weakens domestic effort.",
            "citations": [2, 3],
        },
        {
            "text": "The deal also delays the launch of a second emissions trading system, "
            "covering road transport and heating fuels, by one year to 2028, easing fears "
            "of a spike in household energy bills.",
            "citations": [3],
        },
        {
            "text": "Slovakia, Hungary and Poland voted against the compromise, while Belgium and "
            "Bulgaria abstained; the target now needs the approval of the European "
            "Parliament before it becomes law.",
            "citations": [1, 4],
        },
        {
            "text": "Climate scientists advising the Commission had recommended a domestic cut "
            "of 90–95% without credits, warning that imported offsets are hard to verify "
            "and have a history of overstated benefits.",
            "citations": [5],
        },
        {
            "text": "The agreement gives the EU a position to take to the UN climate summit, "
            "where it is expected to present its updated nationally determined "
            "contribution for 2035.",
            "citations": [4, 6],
        },
    ],
    sources=_sources(
        ("Reuters", "https://www.reuters.com/sustainability/eu-2040-climate-target-deal/"),
        ("Politico Europe", "https://www.politico.eu/article/eu-climate-2040-ministers-deal/"),
        ("Euractiv", "https://www.euractiv.com/section/climate/news/2040-target-credits/"),
        ("Financial Times", "https://www.ft.com/content/5d1f0b3e-2040-climate"),
        (
            "European Scientific Advisory Board",
            "https://climate-advisory-board.europa.eu/reports-and-publications/2040",
        ),
        ("UNFCCC", "https://unfccc.int/NDCREG"),
    ),
    narratives=[
        {
            "label": "Pro-target narrative",
            "paragraphs": [
                "The deal keeps Europe on a credible path to climate neutrality by 2050 and "
                "gives investors the long-term certainty they have asked for. Limited credits "
                "are a pragmatic price for unanimity in difficult economic times.",
            ],
        },
        {
            "label": "Critical narrative",
            "paragraphs": [
                "Loopholes hollow out the headline number. Outsourcing up to a twentieth of "
                "the effort to offsets abroad and delaying carbon pricing for homes and cars "
                "shows the bloc is backing away from its green ambitions.",
            ],
        },
        {
            "kind": "forecast",
            "label": "Nerd narrative",
            "probability": 0.62,
            "forecaster": "Metaculus",
            "question": "The European Parliament will approve the 2040 target before July 1, 2027",
            "as_of": date(2026, 11, 19),
            "paragraphs": [
                "There is a 62% chance that the European Parliament approves the 2040 target "
                "before July 1, 2027, according to the Metaculus prediction community.",
            ],
        },
        {
            "kind": "establishment",
            "label": "Pro-establishment outlets",
            "paragraphs": [
                "Most coverage frames the agreement as a hard-won compromise that shows the "
                "EU can still act together.",
            ],
        },
        {
            "kind": "establishment",
            "label": "Anti-establishment outlets",
            "paragraphs": [
                "These outlets focus on the cost to households and describe the target as "
                "unaffordable climate zealotry.",
            ],
        },
    ],
)

BRAZIL = _brief(
    slug="brazil-central-bank-holds-selic",
    title="Brazil's Central Bank Holds Selic at 15% as Inflation Expectations Drift",
    updated=date(2026, 11, 18),
    image_url="https://images.example-news.org/2026/11/banco-central-brasilia.jpg",
    image_credit="Marcelo Camargo / Agência Brasil",
    topics=["economy", "latin america"],
    facts=[
        {
            "text": "Brazil's central bank kept its benchmark Selic rate at 15% for a fourth "
            "consecutive meeting on Wednesday, the highest level in almost two decades, "
            "saying it would hold rates for a “very prolonged period”.",
            "citations": [1, 2],
        },
        {
            "text": "The monetary policy committee (Copom) noted that market inflation "
            "expectations for 2026 and 2027 remain above the 3% target, even as food prices "
            "cooled and the real strengthened against the dollar.",
            "citations": [2, 3],
        },
        {
            "text": "Finance minister Fernando Haddad said the government's income tax "
            "reform, which exempts earners of up to R$5,000 a month, would be fully "
            "compensated by a minimum tax on high incomes.",
            "citations": [4],
        },
        {
            "text": "Economists polled by the central bank's weekly Focus survey expect the "
            "first rate cut in March, bringing the Selic to 12.25% by the end of next year.",
            "citations": [5],
        },
        {
            "text": "Retail groups and the industry federation CNI criticised the decision, "
            "arguing that real interest rates near 10% are choking credit and investment "
            "ahead of next year's general election.",
            "citations": [3, 6],
        },
    ],
    sources=_sources(
        ("G1", "https://g1.globo.com/economia/noticia/2026/11/18/copom-mantem-selic-15.ghtml"),
        ("Banco Central do Brasil", "https://www.bcb.gov.br/detalhenoticia/copom-novembro"),
        ("Valor Econômico", "https://valor.globo.com/financas/noticia/2026/11/18/copom.ghtml"),
        ("Folha de S.Paulo", "https://www1.folha.uol.com.br/mercado/2026/11/haddad-ir.shtml"),
        ("Focus survey", "https://www.bcb.gov.br/publicacoes/focus"),
        ("CNI statement", None),
    ),
    narratives=[
        {
            "label": "Market narrative",
            "paragraphs": [
                "Holding firm is the only way to anchor expectations while fiscal policy "
                "keeps adding demand; cutting early would repeat the mistakes of 2012.",
            ],
        },
        {
            "label": "Government narrative",
            "paragraphs": [
                "Inflation is already falling and the real is strong: keeping the highest "
                "real rates in the world punishes families and businesses for no reason.",
            ],
        },
        {
            "kind": "forecast",
            "label": "Nerd narrative",
            "probability": 0.71,
            "forecaster": "Polymarket",
            "question": "Brazil's central bank cuts the Selic at its March 2027 meeting",
            "as_of": date(2026, 11, 18),
            "paragraphs": [
                "There is a 71% chance that the central bank cuts the Selic in March 2027, "
                "according to Polymarket.",
            ],
        },
    ],
)

CHIPS = _brief(
    slug="chip-export-controls-tightened",
    title="US Tightens Export Controls on Advanced AI Chips and Chipmaking Tools",
    updated=date(2026, 11, 17),
    image_url="https://images.example-news.org/2026/11/wafer-fab-cleanroom.jpg",
    image_credit="Ann Wang / Reuters",
    image_alt="Technicians in white suits inspect a silicon wafer in a cleanroom",
    topics=["technology", "trade", "china"],
    facts=[
        {
            "text": "The US Commerce Department on Monday widened its restrictions on "
            "exports of advanced AI accelerators, adding a performance threshold that "
            "captures several chips designed to comply with earlier rules.",
            "citations": [1],
        },
        {
            "text": "The rules also add 140 Chinese entities to the trade blacklist, including "
            "makers of chipmaking equipment, and extend controls to high-bandwidth memory "
            "used in AI data centres.",
            "citations": [1, 2],
        },
        {
            "text": "China's commerce ministry called the measures “economic coercion” and said "
            "it would take “necessary measures” to protect its companies, days after "
            "restricting exports of gallium and germanium.",
            "citations": [3],
        },
        {
            "text": "Shares of Dutch lithography firm ASML and Japan's Tokyo Electron fell more "
            "than 3% on concerns that allied governments will be asked to align their own "
            "export rules.",
            "citations": [4, 5],
        },
        {
            "text": "Analysts estimate that Chinese customers accounted for about a quarter of "
            "global chipmaking tool sales last year, as firms stockpiled equipment ahead of "
            "expected curbs.",
            "citations": [5, 6],
        },
    ],
    sources=_sources(
        ("Bureau of Industry and Security", "https://www.bis.gov/press-release/ai-chips-rule"),
        ("Reuters", "https://www.reuters.com/technology/us-widens-ai-chip-curbs/"),
        ("Xinhua", "https://english.news.cn/20261118/commerce-ministry-chips/c.html"),
        ("Bloomberg", "https://www.bloomberg.com/news/articles/2026-11-17/asml-falls"),
        ("Nikkei Asia", "https://asia.nikkei.com/Business/Tech/Semiconductors/tools"),
        (None, "https://www.semiconductors.org/2026-factbook/"),
    ),
    narratives=[
        {
            "label": "National security narrative",
            "paragraphs": [
                "Advanced chips power military AI. Closing loopholes that let near-frontier "
                "hardware reach Chinese labs is overdue, and allies must follow.",
            ],
        },
        {
            "label": "Industry narrative",
            "paragraphs": [
                "Each round of controls costs US firms sales that fund research, while "
                "pushing China to build its own supply chain faster than it otherwise would.",
            ],
        },
        {
            "label": "Beijing narrative",
            "paragraphs": [
                "Washington is abusing export controls to keep China down; the country will "
                "answer with self-reliance and with controls of its own on critical minerals.",
            ],
        },
        {
            "kind": "forecast",
            "label": "Nerd narrative",
            "probability": 0.35,
            "forecaster": "Good Judgment Open",
            "question": "The Netherlands announces new export restrictions on DUV lithography "
            "tools before March 31, 2027",
            "as_of": date(2026, 11, 17),
            "paragraphs": [
                "There is a 35% chance that the Netherlands announces new restrictions on "
                "DUV lithography exports before March 31, 2027, according to Good Judgment "
                "Open forecasters.",
            ],
        },
    ],
)

SUDAN = _brief(
    slug="sudan-ceasefire-talks-resume",
    title="Sudan Ceasefire Talks Resume in Jeddah as Famine Spreads in Darfur",
    updated=date(2026, 11, 16),
    image_url="https://images.example-news.org/2026/11/darfur-aid-convoy.jpg",
    image_credit="UNICEF / Mohamed Zakaria",
    image_alt="Aid trucks queue on a dirt road outside a camp in North Darfur",
    topics=["africa", "diplomacy", "humanitarian"],
    facts=[
        {
            "text": "Delegations from Sudan's army and the paramilitary Rapid Support Forces "
            "met in Jeddah on Sunday for the first direct talks in over a year, mediated by "
            "Saudi Arabia and the United States.",
            "citations": [1, 2],
        },
        {
            "text": "The UN-backed Integrated Food Security Phase Classification said famine "
            "conditions had spread to at least ten areas in Darfur and Kordofan, affecting "
            "hundreds of thousands of people.",
            "citations": [3],
        },
        {
            "text": "Aid agencies say access remains the main obstacle: convoys through the "
            "Adre crossing from Chad have been delayed for weeks by permits and fighting "
            "along the supply routes.",
            "citations": [3, 4],
        },
        {
            "text": "The RSF said it was ready for a humanitarian truce but rejected any "
            "arrangement that would require its forces to withdraw from cities they hold, "
            "including El Fasher.",
            "citations": [2, 5],
        },
        {
            "text": "More than 12 million people have been displaced since the war began in "
            "April 2023, making Sudan the world's largest displacement crisis.",
            "citations": [6],
        },
    ],
    sources=_sources(
        ("Al Jazeera", "https://www.aljazeera.com/news/2026/11/16/sudan-jeddah-talks"),
        ("Sudan Tribune", "https://sudantribune.com/article/jeddah-talks-resume"),
        ("IPC", "https://www.ipcinfo.org/ipcinfo-website/alerts-archive/sudan-2026"),
        ("MSF", "https://www.msf.org/sudan-adre-crossing-access"),
        ("RSF statement on X", None),
        ("UNHCR", "https://data.unhcr.org/en/situations/sudansituation"),
    ),
    narratives=[
        {
            "label": "Army narrative",
            "paragraphs": [
                "The state must recover every city the militia seized; talks can only be "
                "about the RSF leaving civilian areas and laying down its arms.",
            ],
        },
        {
            "label": "RSF narrative",
            "paragraphs": [
                "The RSF fights the remnants of the old regime and is ready for peace, but "
                "will not hand back territory to an army that bombs its own people.",
            ],
        },
        {
            "kind": "establishment",
            "label": "Western outlets",
            "paragraphs": [
                "Coverage centres on the famine and on pressure from Washington and Riyadh "
                "for a truce that lets aid through.",
            ],
        },
        {
            "kind": "establishment",
            "label": "Regional outlets",
            "paragraphs": [
                "Gulf and Egyptian media stress the army's legitimacy and the role of "
                "foreign backers in sustaining the RSF.",
            ],
        },
    ],
)

POWER = _brief(
    slug="heatwave-power-prices-record",
    title="Late Heatwave Sends European Power Prices to Record for November",
    updated=date(2026, 11, 15),
    image_url="https://images.example-news.org/2026/11/power-lines-sunset.jpg",
    image_credit="Sean Gallup / Getty Images",
    topics=["energy", "europe", "climate"],
    facts=[
        {
            "text": "Day-ahead electricity prices in Germany and France rose above €300 per "
            "megawatt-hour on Friday, the highest for November since records began, as an "
            "unusually warm, windless high-pressure system settled over the continent.",
            "citations": [1, 2],
        },
        {
            "text": "Wind generation across the EU fell to less than a tenth of installed "
            "capacity for three days running, a pattern traders call a “Dunkelflaute”, "
            "forcing gas plants to run at full load.",
            "citations": [2, 3],
        },
        {
            "text": "Low river levels on the Rhône reduced output at several French nuclear "
            "plants that rely on river water for cooling, EDF said in a market notice.",
            "citations": [4],
        },
        {
            "text": "Grid operators in Belgium and the Netherlands asked large industrial users "
            "to cut consumption during evening peaks, the first such requests since the "
            "winter of 2022.",
            "citations": [5],
        },
        {
            "text": "European gas storage stood at 87% full, below the five-year average for "
            "the time of year, after a slower summer injection season.",
            "citations": [6],
        },
    ],
    sources=_sources(
        ("Bloomberg", "https://www.bloomberg.com/news/articles/2026-11-14/power-record"),
        ("Montel", "https://www.montelnews.com/news/2026/11/14/dunkelflaute"),
        ("ENTSO-E Transparency Platform", "https://transparency.entsoe.eu/"),
        ("EDF market notice", "https://www.edf.fr/en/the-edf-group/remit-notices"),
        ("Elia", "https://www.elia.be/en/news/press-releases/2026/11/peak-demand"),
        ("AGSI+", "https://agsi.gie.eu/"),
    ),
    narratives=[
        {
            "label": "Renewables-sceptic narrative",
            "paragraphs": [
                "The episode shows the cost of relying on weather-dependent generation "
                "without enough firm capacity; Europe needs more gas and nuclear, not less.",
            ],
        },
        {
            "label": "Transition narrative",
            "paragraphs": [
                "Prices spike because gas sets the price: more storage, interconnectors and "
                "demand response would have absorbed a few still days at a fraction of the "
                "cost.",
            ],
        },
        {
            "kind": "forecast",
            "label": "Nerd narrative",
            "probability": 0.18,
            "forecaster": "Manifold",
            "question": "German day-ahead power prices exceed €500/MWh in any hour before "
            "February 1, 2027",
            "as_of": date(2026, 11, 15),
            "paragraphs": [
                "There is an 18% chance that German day-ahead prices exceed €500/MWh in any "
                "hour before February 1, 2027, according to Manifold.",
            ],
        },
    ],
)

JAPAN = _brief(
    slug="japan-ldp-leadership-race",
    title="Japan's Ruling Party Sets Leadership Vote as Coalition Talks Stall",
    updated=date(2026, 11, 14),
    image_url="https://images.example-news.org/2026/11/ldp-headquarters-tokyo.jpg",
    image_credit="Kyodo",
    image_alt="Reporters outside the Liberal Democratic Party headquarters in Tokyo",
    topics=["asia", "politics"],
    facts=[
        {
            "text": "Japan's Liberal Democratic Party will hold a leadership election on "
            "December 6, after the prime minister said he would step down to take "
            "responsibility for losing the upper house majority.",
            "citations": [1],
        },
        {
            "text": "Five candidates are expected to run, including the former economic "
            "security minister and the chief cabinet secretary, with party members voting "
            "alongside lawmakers for the first time since 2024.",
            "citations": [1, 2],
        },
        {
            "text": "Talks to bring a third party into the governing coalition stalled over "
            "its demand for a cut to the consumption tax on food, which the finance "
            "ministry opposes.",
            "citations": [3],
        },
        {
            "text": "The yen weakened past 158 per dollar as investors bet the next leader "
            "would push the Bank of Japan to slow its rate increases.",
            "citations": [4],
        },
    ],
    sources=_sources(
        ("NHK World", "https://www3.nhk.or.jp/nhkworld/en/news/ldp-leadership-vote/"),
        ("The Japan Times", "https://www.japantimes.co.jp/news/2026/11/14/ldp-race/"),
        ("Asahi Shimbun", "https://www.asahi.com/ajw/articles/coalition-talks"),
        ("Nikkei", "https://www.nikkei.com/article/yen-158/"),
    ),
    narratives=[
        {
            "label": "Reformist narrative",
            "paragraphs": [
                "Voters punished a party that ignored a funding scandal; only a clean break "
                "and a younger leader can win back trust before the next general election.",
            ],
        },
        {
            "label": "Continuity narrative",
            "paragraphs": [
                "Japan needs stability to face China and a volatile US; an experienced "
                "leader who keeps the coalition together matters more than a fresh face.",
            ],
        },
    ],
)

ICE = _brief(
    slug="antarctic-sea-ice-record-low",
    title="Antarctic Sea Ice Ends Winter at Second-Lowest Extent on Record",
    updated=date(2026, 11, 13),
    image_url="https://images.example-news.org/2026/11/antarctic-pack-ice.jpg",
    image_credit="NASA Earth Observatory",
    image_alt="Satellite view of broken pack ice off the Antarctic coast",
    topics=["climate", "science"],
    facts=[
        {
            "text": "Antarctic sea ice peaked at 17.2 million square kilometres this winter, "
            "the second-lowest maximum in the satellite record after 2023, according to the "
            "US National Snow and Ice Data Center.",
            "citations": [1],
        },
        {
            "text": "Researchers say warmer Southern Ocean water below the surface is the "
            "most likely driver, pointing to a possible shift to a new low-ice state after "
            "decades of stable or slightly growing ice.",
            "citations": [2, 3],
        },
        {
            "text": "Less sea ice exposes ice shelves to waves and leaves emperor penguin "
            "colonies without stable ice to breed on; several colonies failed to fledge "
            "chicks in 2022 and 2023.",
            "citations": [3, 4],
        },
        {
            "text": "The Arctic, by contrast, is heading for a near-average autumn refreeze, "
            "although its long-term decline continues at about 12% per decade.",
            "citations": [1, 5],
        },
        {
            "text": "Scientists at the British Antarctic Survey said the next two winters "
            "would show whether the low extent is a lasting change or an extreme swing.",
            "citations": [5],
        },
    ],
    sources=_sources(
        ("NSIDC", "https://nsidc.org/sea-ice-today/analyses/antarctic-maximum-2026"),
        ("Nature", "https://www.nature.com/articles/s41586-026-antarctic-shift"),
        ("Carbon Brief", "https://www.carbonbrief.org/antarctic-sea-ice-2026/"),
        ("Communications Earth & Environment", None),
        ("British Antarctic Survey", "https://www.bas.ac.uk/media-post/sea-ice-2026/"),
    ),
    narratives=[
        {
            "label": "Alarmed narrative",
            "paragraphs": [
                "Two near-record years in a row suggest Antarctica has crossed a threshold, "
                "with consequences for sea level, ecosystems and global weather.",
            ],
        },
        {
            "label": "Cautious narrative",
            "paragraphs": [
                "Antarctic sea ice is highly variable and the record is short; it is too "
                "early to call a regime shift on the strength of a few winters.",
            ],
        },
        {
            "kind": "forecast",
            "label": "Nerd narrative",
            "probability": 0.44,
            "forecaster": "Metaculus",
            "question": "Antarctic sea ice sets a new record-low winter maximum in 2027",
            "as_of": date(2026, 11, 13),
            "paragraphs": [
                "There is a 44% chance that Antarctic sea ice sets a new record-low winter "
                "maximum in 2027, according to the Metaculus prediction community.",
            ],
        },
    ],
)

HOUSING = _brief(
    slug="uk-housing-planning-bill",
    title="UK Planning Bill Clears Commons With Promise of 1.5 Million Homes",
    updated=date(2026, 11, 12),
    image_url="https://images.example-news.org/2026/11/housing-site-cranes.jpg",
    image_credit="Dan Kitwood / Getty Images",
    image_alt="Cranes over a housing construction site on the edge of a town",
    topics=["politics", "economy", "europe"],
    facts=[
        {
            "text": "The UK's planning and infrastructure bill passed its third reading in "
            "the House of Commons on Tuesday by 356 votes to 180, and now goes to the Lords.",
            "citations": [1],
        },
        {
            "text": "The bill limits the number of times applications can be sent back to "
            "councils, lets developers pay into a nature restoration fund instead of "
            "assessing every site, and speeds up legal challenges to major projects.",
            "citations": [1, 2],
        },
        {
            "text": "Housing starts in England fell to their lowest level in a decade last "
            "quarter, leaving the government's target of 1.5 million homes by 2029 far "
            "behind schedule.",
            "citations": [3],
        },
        {
            "text": "Wildlife charities, including the RSPB, said the nature fund lets "
            "developers pay to destroy habitats, while builders said the reforms do not "
            "address a shortage of construction workers.",
            "citations": [4, 5],
        },
        {
            "text": "The Office for Budget Responsibility estimated the reforms would add "
            "0.2% to GDP by 2030, mainly through higher housebuilding.",
            "citations": [6],
        },
    ],
    sources=_sources(
        ("Hansard", "https://hansard.parliament.uk/commons/2026-11-11/planning-bill"),
        ("BBC News", "https://www.bbc.co.uk/news/articles/planning-bill-commons"),
        ("MHCLG statistics", "https://www.gov.uk/government/statistics/housing-supply"),
        ("RSPB", "https://www.rspb.org.uk/whats-happening/news/planning-bill"),
        ("Home Builders Federation", "https://www.hbf.co.uk/news/planning-bill-response/"),
        ("OBR", "https://obr.uk/box/the-economic-impact-of-planning-reform/"),
    ),
    narratives=[
        {
            "label": "Pro-growth narrative",
            "paragraphs": [
                "Britain has made it too hard to build anything. Clearing planning "
                "bottlenecks is the cheapest growth policy available to a government with "
                "no money.",
            ],
        },
        {
            "label": "Environmental narrative",
            "paragraphs": [
                "Nature is being traded away for houses that will not get built faster, "
                "because the real constraints are labour, materials and developers' margins.",
            ],
        },
        {
            "kind": "establishment",
            "label": "Government-friendly outlets",
            "paragraphs": [
                "The bill is presented as the centrepiece of the government's growth plan "
                "and a defeat for the so-called blockers.",
            ],
        },
        {
            "kind": "establishment",
            "label": "Opposition outlets",
            "paragraphs": [
                "Coverage highlights backbench unease and the risk to protected habitats "
                "and green belt land.",
            ],
        },
    ],
)

DIGEST: tuple[Brief, ...] = (CLIMATE, BRAZIL, CHIPS, SUDAN, POWER, JAPAN, ICE, HOUSING)


def example_week() -> tuple[Brief, ...]:
    """The twelve example briefs, in file order (the seed first)."""
    return tuple(read_brief_file(path) for path in brief_files([SEED_BRIEF.parent]))


WEEK: tuple[Brief, ...] = example_week()
