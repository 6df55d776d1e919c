"""Custom Rasa NLU components for Chinese: numeral normalisation, a spaCy gazetteer
of places and business types, and a final entity de-duplication step.

Referenced from config.yml as ``nlu_components.<module>.<ClassName>``.
"""
