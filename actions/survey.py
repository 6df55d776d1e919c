"""The one satisfaction question after a served request, stored through the API."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from actions.common import latest_text

RATINGS = ("satisfied", "neutral", "dissatisfied")


def rating_from_text(text: str) -> Optional[str]:
    if re.search(r"不满意|很差|太差|差评|不好", text):
        return "dissatisfied"
    if re.search(r"一般|还行|凑合|马马虎虎", text):
        return "neutral"
    if re.search(r"满意|很好|不错|好评|挺好|非常好", text):
        return "satisfied"
    return None


class ActionSubmitSurvey(Action):
    def name(self) -> Text:
        return "action_submit_survey"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        rating = tracker.get_slot("rating")
        if rating not in RATINGS:
            rating = rating_from_text(latest_text(tracker))
        reset = [SlotSet("rating", None), SlotSet("survey_ticket_no", None)]
        if rating is None:
            dispatcher.utter_message(response="utter_ask_rating")
            return reset
        payload: Dict[str, Any] = {"conversation_id": tracker.sender_id, "rating": rating}
        if tracker.get_slot("survey_ticket_no"):
            payload["ticket_no"] = tracker.get_slot("survey_ticket_no")
        try:
            await api_client.create_survey(payload)
        except api_client.ApiError:
            # The rating is lost, but the customer is not the one to bother with it.
            dispatcher.utter_message(response="utter_thank_rating_not_stored")
            return reset
        dispatcher.utter_message(response=f"utter_thank_rating_{rating}")
        return reset
