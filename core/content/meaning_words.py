"""The words ``meaning.read`` knows, in Spanish and English (lower case, without accents)."""
from __future__ import annotations


def _words(mapping: dict[str, str]) -> dict[str, str]:
    return {word: name for name, words in mapping.items() for word in words.split()}


# Task verbs and nouns: the guard demands the same tasks (solve vs. graph vs. derive).
TASKS = _words({
    "SOLVE": "resolver resuelve resuelvo resuelves resuelven resolvemos resolverla resolverlo resolverse resolucion "
             "resoluciones solucionar soluciono soluciona solucionas despejar despejo despeja despejas solve solves "
             "solving solved",
    "FACTOR": "factorizar factorizo factoriza factorizas factorizacion factor factors factoring factorise factorize "
              "factorising factorizing factorisation factorization",
    "GRAPH": "graficar grafico grafica graficas graficos representar represento representa dibujar dibujo dibuja "
             "plot plotting graph graphs graphing sketch draw drawing",
    "DERIV": "derivar derivo deriva derivas derivada derivadas derivative derivatives differentiate differentiating "
             "differentiation derive",
    "INTEG": "integrar integro integra integras integral integrales integrate integrating integration integrals",
    "SIMPL": "simplificar simplifico simplifica simplify simplifying",
    "EXPAND": "desarrollar desarrollo expandir expand expanding",
    "CONVERT": "convertir convierte convierto conviertes convert converting",
    "PROVE": "demostrar demuestra demuestro prove proving",
})

NUMBER_WORDS = _words({
    "0": "cero zero", "1": "primero primera primer first", "2": "dos two segundo segunda second both ambos ambas",
    "3": "tres three tercero tercera tercer third", "4": "cuatro four cuarto cuarta fourth",
    "5": "cinco five quinto fifth", "6": "seis six seises sixes", "7": "siete seven", "8": "ocho eight",
    "9": "nueve nine", "10": "diez ten", "100": "cien hundred",
})

# Words that change nothing about the question: articles, question words, polite forms, generic verbs.
FILLER_ES = set("""
el la los las lo un una unos unas de del al a en con para por y o u e que como cual cuales cuanto cuanta cuantos
cuantas quien donde cuando se me te le les nos mi mis tu tus su sus es son esta este esto estos estas esa ese eso
ser hay puedo puedes podrias podria puede pueden podemos quiero quisiera queria necesito necesitaria saber sabes
explicar explica explicame explicas explicarme explicacion ayuda ayudame ayudas ayudarme ayudar dime decir decirme
enseñame enseñar enseñas enseñarme favor porfa porfavor hola gracias profe profesor profesora oye ok vale bueno
entonces calcular calcula calculo calculas calcularla calcularlo calculan hallar halla hallo hallas encontrar
encuentro encuentra encuentras encontrarla encontrarlo obtener obtengo obtiene sacar saco saca hacer hago hace haces
hacerlo hacerla funciona funcionan muy bien paso pasos forma manera modo sobre acerca tema exactamente realmente
usar uso usando utilizando mediante aplicando aplicar aplico ejemplo algo alguien siempre tengo tienes hacen
tiene tienen dices significa significan dice dicen tras despues
""".split())
FILLER_EN = set("""
the an of to in on for with and or is are was be do does did i me my you your we our can could would will should
please tell explain explaining explanation show help want need know how what which who whats it its this that
these those there get find finding calculate calculating compute computing work out figure determine use using
about way some any kind just really mean means step by hi hello thanks thank teacher sir miss like such as example
look looks don doesn isn aren didn won wasn ca wo hey okay ok say says after
""".split())
FILLER = FILLER_ES | FILLER_EN

# One word standing for others (applied before anything else).
SYNONYMS = {"cuadratica": "segundo grado", "cuadraticas": "segundo grado", "quadratic": "second degree"}

NEGATIONS = set("no not sin nunca never ni tampoco without nor none nada ningun ninguna cannot cant dont doesnt isnt".split())

ENTITIES = _words({
    "PYTHAGORAS": "pitagoras pythagoras pythagorean pitagorico pitagorica", "NEWTON": "newton",
    "OHM": "ohm", "LAPLACE": "laplace", "KEPLER": "kepler", "EULER": "euler", "COULOMB": "coulomb",
    "HOOKE": "hooke", "ARCHIMEDES": "arquimedes archimedes", "THALES": "tales thales", "GAUSS": "gauss",
    "BERNOULLI": "bernoulli", "PASCAL": "pascal", "FARADAY": "faraday", "EINSTEIN": "einstein",
})

# Units: symbols as written (case matters: mA is not MA), words folded to a symbol.
UNITS = {symbol: symbol for symbol in "m s kg g N A V W J Hz mA MA mm cm km h min °C °F K Ω mV kV kW MW ms".split()}
UNITS["°"] = "deg"
UNITS.update(_words({
    "s": "segundos seconds secs", "m": "metros meters metres", "deg": "grados degrees", "kg": "kilogramos kilograms",
    "J": "julios joules", "V": "voltios volts", "A": "amperios amperes amps", "Ω": "ohmios ohms",
    "N": "newtons", "h": "horas hours", "min": "minutos minutes", "km": "kilometros kilometres kilometers",
}))

FUNCTIONS = set("sin sen cos tan log ln sqrt exp".split())
