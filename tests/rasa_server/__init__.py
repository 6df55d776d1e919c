"""What runs inside the Rasa server (rasa_server/, nlu_components/, config.yml): patches, seams, gates,
dialogue fixes, tracker and lock stores, NLU components.
"""
