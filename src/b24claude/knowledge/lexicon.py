"""A small English → Russian lexicon of the support domain (lemmas on both sides).

English questions over a Russian base are common ("What is the warranty on coffee machines?"), and no
multilingual embedder installs offline here (README "Knowledge base"), so an English word becomes the
Russian lemmas a base of a shop or a service would use. Two-word phrases are looked up first.
"""

from __future__ import annotations

_RAW = """
coffee machine: кофемашина | coffee maker: кофемашина | coffee grinder: кофемолка | espresso machine: кофемашина
e-scooter: электросамокат | electric scooter: электросамокат | e-bike: электровелосипед
electric bike: электровелосипед | gift card: подарочный сертификат | gift certificate: подарочный сертификат
trade in: trade-in обмен | trade-in: trade-in обмен | pick up: самовывоз | pickup point: пункт выдача самовывоз
pick-up: самовывоз | credit card: карта | bank card: карта | bank transfer: безналичный счет
legal entity: юрлицо юридический | business customer: юрлицо | loyalty program: программа лояльность бонус
loyalty card: программа лояльность карта | cash on delivery: наличные курьер | opening hours: часы работа
working hours: часы работа | business hours: часы работа | customer service: поддержка
frame size: размер рама | test ride: тест-драйв | spare part: запчасть | spare parts: запчасть
how long: срок | how much: стоимость цена | how many: сколько | money back: возврат деньги
warranty: гарантия | guarantee: гарантия | coffee: кофе | machine: машина | machines: машина
grinder: кофемолка | accessory: аксессуар | repair: ремонт | fix: ремонт | broken: сломаться ремонт
breakdown: поломка ремонт | service: сервис обслуживание | maintenance: обслуживание то
delivery: доставка | deliver: доставка | shipping: доставка | ship: доставка | courier: курьер
pickup: самовывоз | collect: самовывоз | store: магазин | shop: магазин | warehouse: склад
return: возврат | refund: возврат деньги | exchange: обмен | replace: замена | replacement: замена
payment: оплата | pay: оплата оплатить | card: карта | cash: наличные | installment: рассрочка
instalment: рассрочка | installments: рассрочка | credit: кредит рассрочка | invoice: счет
bill: счет | receipt: чек | price: цена стоимость | cost: стоимость цена | costs: стоимость
fee: стоимость плата | free: бесплатно бесплатный | discount: скидка | promo: промокод | promocode: промокод
coupon: промокод | bonus: бонус | bonuses: бонус | points: балл бонус | order: заказ | status: статус
track: отследить трек | tracking: отследить трек | cancel: отменить отмена | cancellation: отмена
day: день | days: день | week: неделя | month: месяц | months: месяц | year: год | hour: час
hours: час | open: работать часы | weekend: выходной суббота воскресенье | saturday: суббота
sunday: воскресенье | phone: телефон | call: звонок позвонить | email: почта | address: адрес
contact: контакт | manager: менеджер | operator: оператор | specialist: специалист
moscow: москва | region: регион | city: город | russia: россия | abroad: за граница
company: компания | business: юрлицо | contract: договор | document: документ | documents: документ
bike: велосипед | bicycle: велосипед | bikes: велосипед | scooter: самокат электросамокат | kid: детский
kids: детский | child: детский | children: детский | rent: прокат аренда | rental: прокат аренда
hire: прокат аренда | battery: аккумулятор батарея | charge: зарядка заряд | charging: зарядка
charger: зарядный устройство | range: запас ход | speed: скорость | weight: вес | size: размер
height: рост | frame: рама | wheel: колесо | tire: покрышка шина | tyre: покрышка шина | brake: тормоз
brakes: тормоз | chain: цепь | gear: передача | gears: передача | helmet: шлем | lock: замок
insurance: страховка | deposit: залог | passport: паспорт | age: возраст | winter: зима зимний
storage: хранение | assembly: сборка | assemble: сборка | setup: настройка | adjust: настройка регулировка
quality: качество | defect: брак дефект | defective: брак дефект | damaged: повреждение поврежденный
damage: повреждение | package: упаковка | packaging: упаковка | condition: состояние
used: бывший употребление | new: новый | size chart: размер таблица | fit: подойти размер
waterproof: влагозащита | rain: дождь | water: вода | wash: мойка | clean: чистка | cleaning: чистка
descaling: декальцинация | descale: декальцинация | office: офис | engineer: инженер | visit: выезд
install: установка | installation: установка | weekday: будни | weekdays: будни | time: время срок
long: срок | fast: быстро срочный | urgent: срочный | express: экспресс срочный | same day: день
tomorrow: завтра | today: сегодня | account: личный кабинет | password: пароль | login: вход
register: регистрация | subscription: абонемент подписка | club: клуб | member: участник
student: студент | discount card: скидка карта | birthday: день рождение | certificate: сертификат
sale: распродажа скидка | stock: наличие | available: наличие | availability: наличие
reserve: резерв бронирование | booking: бронирование | book: бронировать бронирование
apartment: квартира | floor: этаж | lift: подъем этаж | elevator: лифт | carry: подъем
heavy: тяжелый | parcel: посылка | post: почта | transport company: транспортный компания
sdek: сдэк | cdek: сдэк | boxberry: boxberry | qr: qr | sbp: сбп | fps: сбп | split: сплит рассрочка
"""


def _parse(raw: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for part in raw.replace("\n", "|").split("|"):
        if ":" not in part:
            continue
        en, ru = part.split(":", 1)
        out[en.strip().lower()] = tuple(ru.split())
    return out


EN_RU: dict[str, tuple[str, ...]] = _parse(_RAW)
EN_STOP = frozenset(
    "a an the is are was were be been being what which who whom whose when where why how do does did can could "
    "will would should may might must shall i you he she it we they me him her us them my your his its our their "
    "this that these those of to in on at by for with about from into over under and or but if then so not no "
    "any some there here get got have has had just also please hello hi thanks thank want need like know tell "
    "much many".split()
)  # "how long", "how much" are looked up as phrases before these drop


def translate(tokens: list[str]) -> tuple[list[str], int]:
    """Russian lemmas for English tokens (phrases first) and how many tokens were understood; tokens with
    no entry pass through as they are (brand names, "qr")."""
    out: list[str] = []
    understood = 0
    i = 0
    while i < len(tokens):
        pair = f"{tokens[i]} {tokens[i + 1]}" if i + 1 < len(tokens) else ""
        entry_pair = EN_RU.get(pair) or EN_RU.get(pair.removesuffix("s")) if pair else None
        if entry_pair:
            out.extend(entry_pair)
            understood += 2
            i += 2
            continue
        word = tokens[i]
        i += 1
        if word in EN_STOP:
            continue
        entry = EN_RU.get(word) or EN_RU.get(word.rstrip("s")) or EN_RU.get(word.removesuffix("es"))
        if entry:
            out.extend(entry)
            understood += 1
        else:
            out.append(word)
    return out, understood


# Russian chat slang and short forms → the lemma a knowledge base would use. A key matches a word that
# starts with it and has at most two more letters (its case endings: "велика", "великом").
RU_SLANG: dict[str, str] = {
    "велик": "велосипед",
    "велос": "велосипед",
    "байк": "велосипед",
    "самик": "самокат",
    "электрич": "электросамокат",
    "эсамокат": "электросамокат",
    "акб": "аккумулятор",
    "акум": "аккумулятор",
    "аккум": "аккумулятор",
    "зарядк": "зарядка",
    "зарядник": "зарядный",
    "доставочк": "доставка",
    "бабк": "деньги",
    "бабл": "деньги",
    "лавэ": "деньги",
    "налик": "наличные",
    "безнал": "безналичный",
    "карточк": "карта",
    "оплатос": "оплата",
    "курик": "курьер",
    "кэшбэк": "бонус",
    "кешбэк": "бонус",
    "кэшбек": "бонус",
    "кешбек": "бонус",
    "бонусик": "бонус",
    "скидос": "скидка",
    "скидон": "скидка",
    "промик": "промокод",
    "сервак": "сервис",
    "мастерск": "сервис",
    "тормоза": "тормоз",
    "колес": "колесо",
    "шин": "покрышка",
    "резин": "покрышка",
    "проколол": "прокол",
    "сломал": "сломаться",
    "сдох": "сломаться",
    "накрыл": "сломаться",
    "глюч": "неисправность",
    "косяк": "брак",
    "брак": "брак",
    "вернуть": "возврат",
    "возврат": "возврат",
    "мск": "москва",
    "питер": "санкт-петербург",
    "спб": "санкт-петербург",
    "юрик": "юрлицо",
    "ип": "юрлицо",
    "ооо": "юрлицо",
    "прокатк": "прокат",
    "прокатн": "прокат",
    "арендн": "аренда",
    "магаз": "магазин",
    "ттх": "характеристика",
    "комплект": "комплектация",
    "шлемак": "шлем",
    "пашет": "работа",
    "пахать": "работа",
    "бэушн": "бывший",
    "трейдин": "trade-in",
    "трейд": "trade-in",
}


def slang(word: str) -> str | None:
    for cut in range(len(word), max(len(word) - 3, 1), -1):
        found = RU_SLANG.get(word[:cut])
        if found is not None:
            return found
    return None
