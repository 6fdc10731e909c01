"""Deterministic benchmark data: N feeds of M entries of French text, from one seed.

About one entry in six mentions a watched keyword (of the project's keywords.txt) in a varied
form: plural, capitals, no accents, hashtag, hyphen or space or nothing between the parts of a
compound. About one entry in twenty is a story that several feeds carry (same link, give or take
tracking parameters, same title). Four feeds in five are RSS 2.0 (half with HTML descriptions in
CDATA, half plain text), one in five is Atom with HTML content. The same seed gives the same
bytes, so the floor, the peer and watcher read exactly the same documents.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

# A fixed day: the feeds are the same bytes whatever day the benchmark runs on. Dates are
# within the week before it, so `watcher hits --since 7d` style reads behave as in real use.
EPOCH = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)

SUBJECTS = [
    "La mairie",
    "Le conseil départemental",
    "Une association de quartier",
    "La communauté de communes",
    "Le réseau régional",
    "Une coopérative d'habitants",
    "La chambre de commerce",
    "Un collectif d'artisans",
    "La préfecture",
    "Une jeune entreprise",
    "L'université",
    "Le centre social",
    "La médiathèque",
    "Un groupe d'étudiants",
    "La fondation",
]
VERBS = [
    "annonce",
    "présente",
    "inaugure",
    "lance",
    "prépare",
    "soutient",
    "finance",
    "accueille",
    "organise",
    "réunit",
    "dévoile",
    "met en place",
]
OBJECTS = [
    "un nouveau programme d'accompagnement",
    "une journée portes ouvertes",
    "un appel à projets",
    "un atelier de réparation",
    "une résidence d'artistes",
    "un marché de producteurs locaux",
    "une formation au numérique",
    "un festival de musique",
    "une consultation publique",
    "un plan de rénovation énergétique",
    "un espace de travail partagé",
    "une ressourcerie",
    "un jardin partagé",
    "une conférence sur la mobilité",
]
PLACES = [
    "à Lyon",
    "à Nantes",
    "en Bretagne",
    "dans la Drôme",
    "à Sceaux",
    "à Marseille",
    "en Occitanie",
    "à Lille",
    "dans le Jura",
    "à Bordeaux",
    "en Seine-Saint-Denis",
    "à Grenoble",
    "dans les Vosges",
    "à Strasbourg",
]
FILLER = [
    "Les inscriptions sont ouvertes jusqu'à la fin du mois.",
    "Le projet a reçu le soutien de plusieurs partenaires publics et privés.",
    "Une centaine de personnes sont attendues pour cette première édition.",
    "Les élus se sont félicités de l'avancée du dossier, engagé il y a deux ans.",
    "Le budget total s'élève à 450 000 euros, dont un tiers de subventions.",
    "Les habitants pourront donner leur avis lors d'une réunion publique en mairie.",
    "Cette initiative s'inscrit dans une démarche de transition écologique.",
    "Plusieurs entreprises locales ont déjà répondu présent.",
    "L'accès est gratuit, sur réservation, dans la limite des places disponibles.",
    "Le calendrier des travaux sera précisé dans les prochaines semaines.",
    "Selon les organisateurs, la demande n'a jamais été aussi forte.",
    "Un bilan sera présenté au conseil municipal avant l'été.",
    "La presse régionale s'en est fait l'écho dès la semaine dernière.",
    "Des permanences sont assurées le mardi et le jeudi après-midi.",
    "Le programme complet est disponible sur le site de la collectivité.",
    "Les bénévoles sont invités à se faire connaître auprès de l'accueil.",
]

# Varied written forms of the watched keywords (keywords.txt), as feeds really write them.
MENTIONS = [
    "tiers-lieux",
    "tiers lieux",
    "Tiers-Lieu",
    "#TiersLieux",
    "tierslieux",
    "coworking",
    "espaces de coworkings",
    "Co-working",
    "#coworking",
    "télétravail",
    "teletravail",
    "Télétravail",
    "fablab",
    "FabLabs",
    "fab-lab",
    "makers",
    "Maker",
    "innovation",
    "innovations",
    "entrepreneuriat",
    "Entrepreneuriat",
    "co-construction",
    "coconstruction",
    "démarche participative",
    "budget participatif",
    "bienveillance",
    "authenticite",
    "équilibre de vie",
    "equilibre de vie",
]


def _sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(PLACES)}."


class Story:
    """One entry's content, before it is written as RSS or Atom."""

    __slots__ = ("author", "body", "guid", "link", "mentions", "published", "title")

    def __init__(
        self, title: str, body: list[str], link: str, guid: str, published: datetime, author: str, mentions: bool
    ) -> None:
        self.title = title
        self.body = body
        self.link = link
        self.guid = guid
        self.published = published
        self.author = author
        self.mentions = mentions


def _story(rng: random.Random, site: str, serial: int) -> Story:
    mentions = rng.random() < 1 / 6
    title = _sentence(rng)
    paragraphs = [" ".join(rng.choice(FILLER) for _ in range(rng.randint(3, 5))) for _ in range(rng.randint(3, 4))]
    if mentions:
        form = rng.choice(MENTIONS)
        if rng.random() < 0.4:
            title = title[:-1] + f" : le {form} à l'honneur."
        else:
            where = rng.randrange(len(paragraphs))
            paragraphs[where] = f"Au cœur du projet, le {form} et ses usages. " + paragraphs[where]
    slug = "-".join(title.lower().split()[:6]).strip(".:,'")
    link = f"https://{site}/actualites/{serial}-{slug}"
    published = EPOCH - timedelta(minutes=rng.randint(0, 7 * 24 * 60))
    author = rng.choice(["Rédaction", "Marie Martin", "Paul Durand", "Service communication", "Léa Bernard"])
    return Story(title, paragraphs, link, f"{site}/{serial}", published, author, mentions)


def generate(feeds: int, entries: int, seed: int = 7) -> list[bytes]:
    """`feeds` documents of `entries` entries each, the same bytes for the same arguments."""
    rng = random.Random(seed)
    shared = [_story(rng, f"presse{n % 7}.example.fr", 900_000 + n) for n in range(max(entries, 20))]
    documents = []
    for index in range(feeds):
        site = f"site{index}.example.fr"
        stories = []
        for serial in range(entries):
            if rng.random() < 1 / 20:  # a story several feeds carry, sometimes with a tracking tag
                story = rng.choice(shared)
                if rng.random() < 0.5:
                    story = Story(
                        story.title,
                        story.body,
                        story.link + f"?utm_source=feed{index}",
                        story.guid,
                        story.published,
                        story.author,
                        story.mentions,
                    )
                stories.append(story)
            else:
                stories.append(_story(rng, site, serial))
        stories.sort(key=lambda s: s.published, reverse=True)
        style = index % 10
        if style < 2:
            documents.append(_atom(site, index, stories))
        else:
            documents.append(_rss(site, index, stories, html=style < 6))
    return documents


def _rss(site: str, index: int, stories: list[Story], html: bool) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n',
        f"<title>Actualités de {site}</title>\n<link>https://{site}/</link>\n",
        f"<description>Les nouvelles du site numéro {index}</description>\n<language>fr-FR</language>\n",
        f'<atom:link href="https://{site}/feed/" rel="self" type="application/rss+xml"/>\n',
    ]
    for s in stories:
        description = f"<![CDATA[{_html(site, s.body)}]]>" if html else escape(" ".join(s.body))
        out.append(
            f"<item>\n<title>{escape(s.title)}</title>\n<link>{escape(s.link)}</link>\n"
            f"<dc:creator>{escape(s.author)}</dc:creator>\n"
            f"<pubDate>{format_datetime(s.published, usegmt=True)}</pubDate>\n"
            f"<category>Actualités</category>\n"
            f'<guid isPermaLink="false">{escape(s.guid)}</guid>\n'
            f"<description>{description}</description>\n</item>\n"
        )
    out.append("</channel>\n</rss>\n")
    return "".join(out).encode()


def _html(site: str, paragraphs: list[str]) -> str:
    """Paragraphs as a blog's feed carries them: a picture on top of some, a link in the first
    paragraph, words in bold or italics here and there (the same words as the plain text)."""
    out = (
        [f'<figure><img src="https://{site}/images/{len(paragraphs[0])}.jpg" alt=""/></figure>']
        if len(paragraphs) % 2
        else []
    )
    for n, paragraph in enumerate(paragraphs):
        words = escape(paragraph).split(" ")
        if len(words) > 6:
            if n == 0:
                words[2] = f'<a href="https://{site}/sujets/{len(words[2])}/">{words[2]}</a>'
            elif n % 2:
                words[4] = f"<strong>{words[4]}</strong>"
            else:
                words[1] = f"<em>{words[1]}</em>"
        out.append(f"<p>{' '.join(words)}</p>")
    return "".join(out)


def _atom(site: str, index: int, stories: list[Story]) -> bytes:
    updated = max(s.published for s in stories).isoformat() if stories else EPOCH.isoformat()
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">\n',
        f"<title>Le blog de {site}</title>\n<id>tag:{site},2020:feed</id>\n<updated>{updated}</updated>\n",
        f'<link rel="alternate" href="https://{site}/"/>\n<link rel="self" href="https://{site}/atom.xml"/>\n',
    ]
    for s in stories:
        body = _html(site, s.body)
        out.append(
            f'<entry>\n<title>{escape(s.title)}</title>\n<link rel="alternate" href="{escape(s.link)}"/>\n'
            f"<id>tag:{escape(s.guid)}</id>\n<published>{s.published.isoformat()}</published>\n"
            f"<updated>{s.published.isoformat()}</updated>\n<author><name>{escape(s.author)}</name></author>\n"
            f'<content type="html">{escape(body)}</content>\n</entry>\n'
        )
    out.append("</feed>\n")
    return "".join(out).encode()


def stories_text(count: int, seed: int = 11) -> list[tuple[str, str]]:
    """(title, text) pairs of the same kind of French, for the matching micro-benchmark."""
    rng = random.Random(seed)
    pairs = []
    for serial in range(count):
        s = _story(rng, "example.fr", serial)
        pairs.append((s.title, " ".join(s.body)))
    return pairs
