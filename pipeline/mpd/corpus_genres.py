"""Real Spotify genre strings and sound centres for the generated corpus's styles.

Every string here is one Spotify uses for artists. `SINGLE[b]` holds genres the default
taxonomy (`recommender/data/genre_rules.toml`) files into bucket `b` alone; `DUAL`
pairs two buckets with genres it files into exactly that pair ("pop rap" → pop and
hip hop). tests/pipeline/test_corpus.py checks both against the taxonomy, so a change of the
rules that moves one of them shows up there.

`SOUND[b]` is a bucket's centre for the nine continuous audio features (`CONTINUOUS`),
roughly what real tracks of the genre measure: styles sit around their bucket's centre
and overlap, so sound clusters recover genres only in part, as on real catalogues.
"""

from __future__ import annotations

from sql.schema import CONTINUOUS_FEATURES

SINGLE: dict[str, tuple[str, ...]] = {
    "rock": (
        "album rock", "classic rock", "modern rock", "alternative rock", "indie rock",
        "garage rock", "hard rock", "punk", "post-grunge", "grunge", "permanent wave",
        "modern alternative rock", "art rock", "psychedelic rock", "britpop", "emo",
        "post-punk", "new wave", "soft rock", "southern rock", "stoner rock", "shoegaze",
        "skate punk", "mellow gold", "post-hardcore", "yacht rock", "heartland rock",
    ),
    "hip hop": (
        "hip hop", "rap", "southern hip hop", "trap", "gangster rap", "east coast hip hop",
        "west coast rap", "dirty south rap", "atl hip hop", "conscious hip hop",
        "alternative hip hop", "underground hip hop", "crunk", "drill", "chicago rap",
        "melodic rap", "emo rap", "g funk", "hardcore hip hop", "uk hip hop",
        "canadian hip hop", "memphis hip hop", "houston rap", "boom bap", "trap music",
        "grime", "detroit hip hop",
    ),
    "pop": (
        "pop", "post-teen pop", "electropop", "indie pop", "art pop", "teen pop", "europop",
        "viral pop", "candy pop", "boy band", "girl group", "canadian pop", "australian pop",
        "uk pop", "barbadian pop", "indie poptimism", "neo mellow", "acoustic pop", "k-pop",
        "j-pop", "swedish pop", "talent show", "easy listening", "brill building",
        "bubblegum pop", "chamber pop", "dream pop", "synthpop",
    ),
    "jazz": (
        "jazz", "vocal jazz", "smooth jazz", "cool jazz", "jazz fusion", "bebop", "hard bop",
        "big band", "swing", "contemporary jazz", "jazz piano", "jazz saxophone",
        "jazz trumpet", "post-bop", "lounge", "nu jazz", "free jazz", "dixieland", "stride",
        "gypsy jazz",
    ),
    "blues": (
        "blues", "electric blues", "chicago blues", "modern blues", "delta blues",
        "texas blues", "traditional blues", "country blues", "harmonica blues", "piano blues",
        "acoustic blues", "memphis blues", "louisiana blues", "jump blues", "british blues",
    ),
    "country": (
        "country", "contemporary country", "country road", "outlaw country", "texas country",
        "bluegrass", "progressive bluegrass", "nashville sound", "red dirt", "country gospel",
        "cowboy western", "honky tonk", "western swing", "traditional country",
        "alt country", "oklahoma country", "arkansas country", "australian country",
        "canadian country",
    ),
    "metal": (
        "metal", "alternative metal", "nu metal", "metalcore", "groove metal", "thrash metal",
        "death metal", "black metal", "power metal", "heavy metal", "glam metal",
        "progressive metal", "symphonic metal", "speed metal", "deathcore",
        "melodic metalcore", "doom metal", "sludge metal", "djent", "industrial metal",
        "old school thrash", "neue deutsche harte", "gothic metal", "folk metal",
    ),
    "reggae": (
        "reggae", "roots reggae", "dancehall", "reggae fusion", "ska", "rocksteady", "dub",
        "lovers rock", "modern reggae", "ska revival", "uk reggae", "polynesian reggae",
        "early reggae",
    ),
    "folk": (
        "folk", "indie folk", "stomp and holler", "traditional folk", "singer-songwriter",
        "american folk revival", "contemporary folk", "celtic", "irish folk", "anti-folk",
        "chamber folk", "freak folk", "british folk", "neo-folk", "cajun", "zydeco", "polka",
        "sea shanties",
    ),
    "soul": (
        "soul", "neo soul", "classic soul", "urban contemporary", "quiet storm", "r&b",
        "contemporary r&b", "alternative r&b", "southern soul", "motown", "northern soul",
        "memphis soul", "chicago soul", "philly soul", "new jack swing", "gospel",
        "rhythm and blues", "doo-wop", "retro soul", "uk contemporary r&b", "indie r&b",
    ),
    "edm": (
        "edm", "electro house", "big room", "progressive house", "house", "deep house",
        "tropical house", "dubstep", "brostep", "trance", "progressive trance", "techno",
        "drum and bass", "electronic trap", "complextro", "electronica", "indietronica",
        "downtempo", "trip hop", "chillwave", "synthwave", "hardstyle", "moombahton",
        "uk garage", "bass music", "melbourne bounce", "tech house", "minimal techno",
        "electro", "big beat", "breakbeat", "jungle", "psytrance", "idm",
    ),
    "dance": (
        "dance", "eurodance", "disco", "uk dance", "post-disco", "eurobeat", "hi-nrg",
        "freestyle", "italo disco", "disco polo", "german dance",
    ),
    "latin": (
        "latin", "reggaeton", "tropical", "salsa", "bachata", "merengue", "cumbia", "banda",
        "norteno", "ranchera", "mariachi", "regional mexican", "corrido", "tejano", "bolero",
        "tango", "samba", "mpb", "sertanejo", "pagode", "forro", "reggaeton flow",
        "urbano latino", "latin alternative", "salsa romantica", "cumbia villera",
        "funk carioca", "flamenco", "rumba", "son cubano",
    ),
    "funk": (
        "funk", "p funk", "go-go", "afrobeat", "deep funk", "new orleans funk",
        "psychedelic funk", "classic funk",
    ),
    "others": (
        "soundtrack", "classical", "new age", "worship", "christian music", "ccm",
        "video game music", "show tunes", "orchestral soundtrack", "compositional ambient",
        "ambient", "children's music", "comic", "spoken word", "lullaby", "meditation",
        "baroque", "opera", "movie tunes", "anime",
    ),
}  # fmt: skip

DUAL: dict[tuple[str, str], tuple[str, ...]] = {
    ("pop", "hip hop"): ("pop rap", "hip pop"),
    ("pop", "dance"): ("dance pop", "pop dance"),
    ("pop", "rock"): ("power pop", "jangle pop", "pop rock", "new romantic"),
    ("pop", "soul"): ("pop soul", "pop r&b"),
    ("pop", "edm"): ("pop edm",),
    ("pop", "latin"): ("latin pop",),
    ("pop", "country"): ("country pop",),
    ("pop", "folk"): ("folk-pop",),
    ("pop", "jazz"): ("adult standards",),
    ("rock", "country"): ("country rock", "cowpunk"),
    ("rock", "folk"): ("folk rock", "folk punk"),
    ("rock", "blues"): ("blues rock", "blues-rock", "punk blues"),
    ("rock", "hip hop"): ("rap rock",),
    ("rock", "funk"): ("funk rock",),
    ("rock", "reggae"): ("reggae rock", "ska punk"),
    ("hip hop", "latin"): ("latin hip hop", "rap latina", "trap latino"),
    ("hip hop", "soul"): ("hip hop soul",),
    ("hip hop", "metal"): ("rap metal",),
    ("soul", "jazz"): ("soul jazz",),
    ("soul", "funk"): ("minneapolis sound", "rare groove"),
    ("soul", "blues"): ("soul blues", "gospel blues"),
    ("soul", "country"): ("country soul",),
    ("edm", "dance"): ("nu disco", "disco house"),
    ("edm", "latin"): ("electro latino", "latin house"),
    ("jazz", "funk"): ("jazz funk",),
    ("jazz", "latin"): ("latin jazz", "bossa nova"),
    ("jazz", "blues"): ("jazz blues",),
    ("metal", "funk"): ("funk metal",),
    ("reggae", "latin"): ("reggae en espanol",),
    ("country", "folk"): ("americana", "old-time"),
}  # fmt: skip

BUCKETS = tuple(SINGLE)

# A bucket's share of the styles (and so, roughly, of the tracks): MPD-like, pop, rock
# and hip hop first.
STYLE_SHARE: dict[str, float] = {
    "rock": 0.16, "hip hop": 0.14, "pop": 0.14, "edm": 0.09, "soul": 0.07, "country": 0.06,
    "latin": 0.06, "metal": 0.05, "folk": 0.05, "dance": 0.04, "jazz": 0.04,
    "reggae": 0.03, "others": 0.03, "blues": 0.02, "funk": 0.02,
}  # fmt: skip

CONTINUOUS = CONTINUOUS_FEATURES
# bucket → centre of CONTINUOUS (each a real track's typical value for the genre)
SOUND: dict[str, tuple[float, ...]] = {
    "rock":    (0.08, 0.48, 0.78, 0.03, 0.18, -6.0, 0.05, 124, 0.48),
    "hip hop": (0.12, 0.76, 0.64, 0.002, 0.17, -6.3, 0.24, 112, 0.47),
    "pop":     (0.18, 0.66, 0.68, 0.002, 0.15, -5.6, 0.07, 118, 0.52),
    "jazz":    (0.78, 0.55, 0.32, 0.35, 0.14, -12.5, 0.05, 108, 0.48),
    "blues":   (0.42, 0.52, 0.58, 0.06, 0.25, -8.5, 0.05, 116, 0.58),
    "country": (0.28, 0.58, 0.66, 0.002, 0.16, -5.8, 0.04, 122, 0.58),
    "metal":   (0.004, 0.40, 0.93, 0.06, 0.22, -4.4, 0.08, 126, 0.30),
    "reggae":  (0.14, 0.77, 0.63, 0.02, 0.14, -7.0, 0.14, 98, 0.72),
    "folk":    (0.72, 0.52, 0.38, 0.03, 0.13, -10.0, 0.04, 114, 0.42),
    "soul":    (0.30, 0.63, 0.52, 0.004, 0.14, -7.4, 0.08, 106, 0.54),
    "edm":     (0.04, 0.66, 0.84, 0.45, 0.19, -4.8, 0.07, 126, 0.38),
    "dance":   (0.07, 0.73, 0.79, 0.06, 0.14, -5.3, 0.05, 122, 0.68),
    "latin":   (0.20, 0.74, 0.72, 0.002, 0.15, -5.0, 0.09, 110, 0.68),
    "funk":    (0.16, 0.76, 0.68, 0.12, 0.16, -7.6, 0.07, 110, 0.80),
    "others":  (0.88, 0.32, 0.20, 0.78, 0.12, -19.0, 0.05, 104, 0.20),
}  # fmt: skip
# How far a style's centre strays from its bucket's and a track from its style's (in
# logit units for the [0, 1] features, dB for loudness, BPM for tempo).
STYLE_SPREAD = (0.55, 0.30, 0.40, 0.9, 0.25, 1.5, 0.35, 10.0, 0.35)
TRACK_SPREAD = (0.9, 0.45, 0.55, 1.6, 0.55, 2.2, 0.45, 18.0, 0.60)
